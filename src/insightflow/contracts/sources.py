"""Typed view of ``sources.yaml`` and the matching of a file to its contract."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

SUPPORTED_TYPES = frozenset({"BIGINT", "DOUBLE", "VARCHAR", "DATE"})

#: Columns ingest adds to every raw row so that it can be traced to its file, line and load.
LINEAGE_COLUMNS: dict[str, str] = {
    "_load_id": "VARCHAR",
    "_source_file": "VARCHAR",
    "_source_sha256": "VARCHAR",
    "_source_line": "BIGINT",
    "_ingested_at": "TIMESTAMP",
    # JSON object {column: original text} of values that did not parse, or
    # {"_record": text, "_problem": ...} for a record with the wrong number of fields.
    "_invalid": "VARCHAR",
}


@dataclass(frozen=True)
class ColumnContract:
    """One column of a source file."""

    source: str
    name: str
    type: str
    required: bool = False
    format: str | None = None
    #: The published figures computed from this column: a file without it is refused (a figure
    #: would read 0 otherwise), though a row may leave it blank.
    feeds: tuple[str, ...] = ()


@dataclass(frozen=True)
class SourceContract:
    """What one source file (customers, products, orders or deliveries) must contain."""

    source: str
    table: str
    file_names: tuple[str, ...]
    natural_key: tuple[str, ...]
    columns: tuple[ColumnContract, ...]

    @property
    def headers(self) -> tuple[str, ...]:
        return tuple(c.source for c in self.columns)

    @property
    def required_headers(self) -> tuple[str, ...]:
        return tuple(c.source for c in self.columns if c.required)

    def column(self, header: str) -> ColumnContract | None:
        """The contract column for a header, compared case-insensitively."""
        wanted = header.strip().upper()
        return next((c for c in self.columns if c.source.upper() == wanted), None)

    def matches_file_name(self, file_name: str) -> bool:
        return file_name.lower() in {n.lower() for n in self.file_names}

    def header_overlap(self, headers: list[str]) -> float:
        """Share of this contract's headers present in ``headers``."""
        present = {h.strip().upper() for h in headers}
        return sum(h.upper() in present for h in self.headers) / len(self.headers)


@cache
def load_contracts() -> dict[str, SourceContract]:
    """The four source contracts, keyed by source name, in dependency order."""
    text = resources.files("insightflow.contracts").joinpath("sources.yaml").read_text("utf-8")
    contracts = {}
    for source, spec in yaml.safe_load(text).items():
        columns = tuple(ColumnContract(**{**c, "feeds": tuple(c.get("feeds", ()))}) for c in spec["columns"])
        for column in columns:
            if column.type not in SUPPORTED_TYPES:
                raise ValueError(f"sources.yaml: {source}.{column.name} has type {column.type}")
        contracts[source] = SourceContract(
            source=source,
            table=spec["table"],
            file_names=tuple(spec["file_names"]),
            natural_key=tuple(spec["natural_key"]),
            columns=columns,
        )
    return contracts


def match_contract(file_name: str, headers: list[str]) -> SourceContract | None:
    """The contract a file belongs to: by its name first, else by a header that fits one contract.

    A header counts as fitting when it has every required column of exactly one contract and most
    of its columns, so that ``orders_2024-06.csv`` with the order header is still recognised.
    """
    contracts = load_contracts().values()
    by_name = [c for c in contracts if c.matches_file_name(file_name)]
    if by_name:
        return by_name[0]
    present = {h.strip().upper() for h in headers}
    fitting = [
        c
        for c in contracts
        if all(h.upper() in present for h in c.required_headers) and c.header_overlap(headers) >= 0.8
    ]
    return fitting[0] if len(fitting) == 1 else None
