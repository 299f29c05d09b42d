"""The engine interface: what a transformation engine must do for the runner.

An engine reads tables from their data files, builds one model into staged Parquet (published rows
and quarantined rows apart) and exposes the built table to the models after it. Engine differences
live in the adapters (``duckdb_engine``), never in the models or the runner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from insightflow.lake import TableFiles
from insightflow.transform.models import Model


@dataclass
class BuildResult:
    """One model built into staging."""

    table: str
    quarantine_table: str | None
    published_files: list[Path]
    quarantine_files: list[Path]
    rows: int
    quarantined: int
    superseded: int
    input_rows: int | None
    seconds: float
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def output_rows(self) -> int:
        """Every row the model accounted for: published + quarantined + superseded."""
        return self.rows + self.quarantined + self.superseded


class Engine(Protocol):
    """A SQL engine that can run the models."""

    name: str

    def register(self, table: TableFiles) -> None:
        """Make ``table`` (resolved to its data files) readable by the models under its name."""

    def build(self, model: Model, staging: Path) -> BuildResult:
        """Run ``model``; write published and quarantined rows as Parquet under ``staging``."""

    def query(self, sql: str) -> tuple[list[str], list[tuple]]:
        """Run a read-only query over the registered and built tables; (column names, rows)."""

    def close(self) -> None: ...
