"""How the CLI shows a listing: a table that fits the terminal, JSON or CSV — one code path.

A command describes its listing once, as columns over its records; ``emit`` writes it in the
format asked for. Tables never cut a value: long text wraps inside its cell, identifiers (run
ids, snapshot ids, step names) are never split, and the columns that matter least are shown only
with ``--wide`` (a note says how many were left out). A table taller than the terminal is paged.
JSON and CSV hold every column, with the values as data (numbers as numbers, JSON as JSON).
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from rich.table import Table

from insightflow.console import TextConsole


class Format(str, Enum):
    """The output formats of every listing command."""

    table = "table"
    json = "json"
    csv = "csv"


def _console(stream: Any, stderr: bool = False) -> TextConsole:
    # A terminal, or $COLUMNS when set, decides the width; piped output is not cut to 80 columns,
    # so scripts and logs get whole table cells.
    width = None if stream.isatty() or os.environ.get("COLUMNS") else 240
    return TextConsole(width=width, stderr=stderr)


OUT = _console(sys.stdout)
ERR = _console(sys.stderr, stderr=True)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


@dataclass(frozen=True)
class Column:
    """One column of a listing: ``key`` names it in JSON and CSV, ``header`` in a table."""

    key: str
    header: str | None = None
    #: The record's value (default: ``record[key]``), as JSON and CSV hold it.
    value: Callable[[Any], object] | None = None
    #: How a table shows the value (default: numbers with thousands separators, None as blank).
    text: Callable[[Any], str] | None = None
    #: The table cell from the whole record (overrides ``text``).
    cell: Callable[[Any], str] | None = None
    #: Shown in a table only with ``--wide`` (JSON and CSV always hold it).
    wide: bool = False
    #: An identifier or a name: never wrapped inside its cell.
    whole: bool = False
    right: bool = False

    def of(self, record: Any) -> object:
        if self.value:
            return self.value(record)
        return record[self.key] if isinstance(record, dict) else getattr(record, self.key)

    def shown(self, record: Any) -> str:
        if self.cell:
            return self.cell(record)
        value = self.of(record)
        return self.text(value) if self.text else _text(value)


@dataclass
class Listing:
    """Records and how to show them; ``data`` overrides the JSON written (default: one object per
    record, keyed by the columns)."""

    columns: Sequence[Column]
    records: Sequence[Any]
    notes: list[str] = field(default_factory=list)
    data: object = None
    #: Where the columns left out of a table are shown.
    wide_hint: str = "with --wide"


def emit(listing: Listing, format: Format, *, wide: bool = False, out: TextConsole = OUT) -> None:
    """Write ``listing`` to standard output in ``format``."""
    if format is Format.json:
        data = listing.data if listing.data is not None else [
            {c.key: c.of(r) for c in listing.columns} for r in listing.records]
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    elif format is Format.csv:
        sys.stdout.write(to_csv([c.key for c in listing.columns],
                                ([c.of(r) for c in listing.columns] for r in listing.records)))
    else:
        print_table(listing, wide=wide, out=out)


def to_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """CSV text (RFC 4180, ``\\n`` line ends) of ``rows`` under ``header``; None is an empty field,
    a list or a mapping is its JSON."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([json.dumps(v, default=str) if isinstance(v, (dict, list)) else v for v in row])
    return buffer.getvalue()


def print_table(listing: Listing, *, wide: bool = False, out: TextConsole = OUT) -> None:
    """``listing`` as a table that fits ``out``'s width, then its notes."""
    columns = [c for c in listing.columns if wide or not c.wide]
    # no outer border: four more characters for the values
    table = Table(show_edge=False, pad_edge=False)
    for c in columns:
        header = c.header or c.key.replace("_", " ")
        # a header wraps between its words, never inside one
        table.add_column(header, overflow="fold", no_wrap=c.whole, justify="right" if c.right else "left",
                         min_width=max(len(word) for word in header.split()))
    for record in listing.records:
        table.add_row(*(c.shown(record) for c in columns))
    hidden = len(listing.columns) - len(columns)
    notes = list(listing.notes)
    if hidden and listing.records:
        notes.append(f"{hidden} more column{'s' if hidden > 1 else ''} {listing.wide_hint} "
                     f"({', '.join(c.header or c.key for c in listing.columns if c.wide)})")
    paged = out.is_terminal and len(listing.records) + 6 > out.height
    with out.pager(styles=False) if paged else nullcontext():
        if listing.records or not listing.notes:
            out.print(table)
        for note in notes:
            out.print(note)


def rows_listing(columns: Sequence[str], rows: Sequence[Sequence[object]], notes: list[str] | None = None) -> Listing:
    """A listing of query results: one column per result column, NULL shown as such."""
    return Listing(
        [Column(name, header=name, value=lambda r, i=i: r[i], text=lambda v: "NULL" if v is None else str(v))
         for i, name in enumerate(columns)],
        rows, notes or [],
    )
