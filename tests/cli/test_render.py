"""The CLI's one renderer: tables that fit and page on a terminal, JSON and CSV with every column."""

from __future__ import annotations

import contextlib
import csv
import io
import json

import pytest

from insightflow.cli.render import Column, Format, Listing, emit, print_table
from insightflow.console import TextConsole

COLUMNS = [Column("run_id", header="run", whole=True), Column("rows", right=True),
           Column("note"), Column("bytes", text=lambda v: f"{v / 1e6:.2f} MB", wide=True)]


def _records(n: int) -> list[dict]:
    return [{"run_id": f"20261201T0600{i:02d}-abc123", "rows": 1000 * i, "note": "a long note " * 8,
             "bytes": 2_500_000 * i} for i in range(n)]


class _Terminal(TextConsole):
    """A terminal 100 columns wide and 20 lines high, recording whether it paged."""

    def __init__(self) -> None:
        super().__init__(file=io.StringIO(), force_terminal=True, width=100, height=20, color_system=None)
        self.paged = False

    @contextlib.contextmanager
    def pager(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201 - Rich's signature
        self.paged = True
        yield


@pytest.mark.parametrize(("rows", "paged"), [(3, False), (60, True)])
def test_a_table_taller_than_the_terminal_is_paged(rows: int, paged: bool) -> None:
    terminal = _Terminal()
    print_table(Listing(COLUMNS, _records(rows)), out=terminal)
    assert terminal.paged is paged
    lines = terminal.file.getvalue().splitlines()
    assert all(len(line) <= 100 for line in lines)
    assert all(r["run_id"] in terminal.file.getvalue().split() for r in _records(rows))  # never split
    assert "1 more column with --wide (bytes)" in lines[-1]


def test_wide_shows_every_column_and_a_piped_table_is_not_paged() -> None:
    terminal = _Terminal()
    print_table(Listing(COLUMNS, _records(2)), wide=True, out=terminal)
    assert "2.50 MB" in terminal.file.getvalue() and "--wide" not in terminal.file.getvalue()
    piped = TextConsole(file=io.StringIO(), width=100, height=20)
    print_table(Listing(COLUMNS, _records(60)), out=piped)  # not a terminal: all of it, no pager
    assert len([line for line in piped.file.getvalue().splitlines() if "abc123" in line]) == 60


def test_json_and_csv_hold_every_column_as_data(capsys: pytest.CaptureFixture[str]) -> None:
    records = [{**r, "note": {"nested": [1, 2]}} for r in _records(2)]
    emit(Listing(COLUMNS, records), Format.json)
    assert json.loads(capsys.readouterr().out) == records  # numbers as numbers, objects as objects
    emit(Listing(COLUMNS, records), Format.csv)
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["run_id", "rows", "note", "bytes"]
    assert rows[2] == [records[1]["run_id"], "1000", '{"nested": [1, 2]}', "2500000"]
