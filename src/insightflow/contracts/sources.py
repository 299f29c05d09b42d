"""Typed view of ``sources.yaml`` and the matching of a file to its contract."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from importlib import resources

import yaml

from insightflow.errors import ContractError

SUPPORTED_TYPES = frozenset({"BIGINT", "DOUBLE", "VARCHAR", "DATE"})

#: What a file may do to depart from its contract, and the values each rule of a drift policy takes.
DRIFT_RULES: dict[str, tuple[str, ...]] = {
    # a header the contract does not know: kept in raw (as VARCHAR), dropped at ingest, or refused
    "extra_columns": ("keep", "drop", "reject"),
    # an optional column absent from the header: filled with NULL, or the file refused
    "missing_optional": ("fill_null", "reject"),
    # a required column absent from the header: the file is refused (rows could not be curated)
    "missing_required": ("reject",),
}

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
class DriftPolicy:
    """How the crawler treats a file whose header departs from its contract (``drift:``)."""

    extra_columns: str = "keep"
    missing_optional: str = "fill_null"
    missing_required: str = "reject"


@dataclass(frozen=True)
class SourceContract:
    """What one source file (customers, products, orders or deliveries) must contain."""

    source: str
    table: str
    file_names: tuple[str, ...]
    #: The raw columns that identify a row: the newest load's row of a key wins, a key twice in
    #: one load is a duplicate (the curated model's key is this key under the model's names).
    natural_key: tuple[str, ...]
    columns: tuple[ColumnContract, ...]
    drift: DriftPolicy = DriftPolicy()

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
    return parse_contracts(text)


def parse_contracts(text: str, origin: str = "sources.yaml") -> dict[str, SourceContract]:
    """The contracts a ``sources.yaml`` text declares; a ``ContractError`` names what is wrong.

    The top-level ``drift:`` is every source's policy; a source's own ``drift:`` overrides rules of it.
    """
    specs = yaml.safe_load(text) or {}
    default = _drift(specs.pop("drift", None) or {}, DriftPolicy(), f"{origin}: drift")
    contracts = {}
    for source, spec in specs.items():
        where = f"{origin}: {source}"
        try:
            columns = tuple(ColumnContract(**{**c, "feeds": tuple(c.get("feeds", ()))}) for c in spec["columns"])
            contract = SourceContract(
                source=source,
                table=spec["table"],
                file_names=tuple(spec["file_names"]),
                natural_key=tuple(spec["natural_key"]),
                columns=columns,
                drift=_drift(spec.get("drift") or {}, default, f"{where}.drift"),
            )
        except (KeyError, TypeError) as error:
            raise ContractError(f"{where}: {error!r} is not a valid contract entry") from None
        for column in columns:
            if column.type not in SUPPORTED_TYPES:
                raise ContractError(f"{where}.{column.name} has type {column.type} "
                                    f"(one of {', '.join(sorted(SUPPORTED_TYPES))})")
        names = {c.name for c in columns}
        unknown = [k for k in contract.natural_key if k not in names]
        if unknown:
            raise ContractError(f"{where}: natural_key {unknown[0]} is not one of its columns")
        optional = [c.name for c in columns if c.name in contract.natural_key and not c.required]
        if optional:
            raise ContractError(f"{where}: natural_key {optional[0]} must be required")
        contracts[source] = contract
    return contracts


def _drift(spec: object, base: DriftPolicy, where: str) -> DriftPolicy:
    """``base`` with the rules ``spec`` sets, each checked against ``DRIFT_RULES``."""
    if not isinstance(spec, dict):
        raise ContractError(f"{where} must be a mapping of rules ({', '.join(DRIFT_RULES)})")
    for rule, value in spec.items():
        if rule not in DRIFT_RULES:
            raise ContractError(f"{where}: unknown rule {rule!r} (one of {', '.join(DRIFT_RULES)})")
        if value not in DRIFT_RULES[rule]:
            raise ContractError(f"{where}.{rule} is {value!r}: one of {', '.join(DRIFT_RULES[rule])}")
    return replace(base, **spec)


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
