"""The engine interface: the few things a SQL engine must do for the runner.

The runner (``insightflow.transform.runner``) writes every statement of a build — the model over
the rows to rebuild, the newest-load-wins ranking, the merge into the published table, the
quarantine — once, in DuckDB's dialect. An engine adapter makes tables readable under their names,
runs statements, and writes query results as Parquet; how it does so (DuckDB in-process, Spark
temporary views translated with sqlglot) stays in the adapter. An adapter raises ``ModelError``
with the engine's own one-line message; the runner says which model it was building.

``ENGINES`` names the adapters a run can use; each is imported only when asked for
(``create_engine``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module
from inspect import signature
from typing import Protocol

from insightflow.errors import UsageError
from insightflow.lake import TableFiles


class Engine(Protocol):
    """A SQL engine that can run the models."""

    name: str
    label: str  # the engine's name in messages ("DuckDB")

    def register(self, table: TableFiles, name: str | None = None) -> None:
        """Make ``table`` (resolved to its data files) readable under ``name`` (default: its own)."""

    def create(self, name: str, sql: str, *, materialize: bool = False) -> None:
        """Make the result of ``sql`` readable under ``name``: computed once (``materialize``) or
        each time it is read (a view)."""

    def columns(self, sql: str) -> list[str]:
        """The column names of the result of ``sql`` (nothing is computed)."""

    def query(self, sql: str) -> tuple[list[str], list[tuple]]:
        """Run a read-only query; (column names, rows)."""

    def write(self, sql: str, folder: str, order_by: tuple[str, ...] = ()) -> list[str]:
        """Write the result of ``sql`` as Parquet file(s) into ``folder`` (a location of the lake's
        storage); returns them."""

    def drop(self, name: str) -> None:
        """Forget ``name`` (and free what it holds) if it exists."""

    def close(self) -> None: ...


@dataclass
class BuildResult:
    """One model built into staging (or found unchanged)."""

    table: str
    quarantine_table: str | None
    #: Staged files of the new table, or None when the table is unchanged (nothing to commit).
    published_files: list[str] | None
    #: Staged files of the new quarantine, or None when it is unchanged.
    quarantine_files: list[str] | None
    rows: int
    quarantined: int
    superseded: int
    input_rows: int | None
    seconds: float
    #: Rows the model evaluated in this run (new loads, retried rows, groups to rebuild).
    evaluated: int = 0
    #: Published rows that changed (inserted, updated or deleted) in this run.
    changed: int = 0
    full: bool = True
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def output_rows(self) -> int:
        """Every row the model accounted for: published + quarantined + superseded."""
        return self.rows + self.quarantined + self.superseded

    @property
    def skipped(self) -> bool:
        """Whether nothing of the model needed building (no input changed)."""
        return self.published_files is None and self.quarantine_files is None and not self.evaluated

#: name -> "module:class" of its adapter.
ENGINES: dict[str, str] = {
    "duckdb": "insightflow.transform.duckdb_engine:DuckDBEngine",
    "spark": "insightflow.transform.spark_engine:SparkEngine",
}


def create_engine(name: str, **options: object) -> Engine:
    """A new engine adapter; ``options`` go to its constructor."""
    try:
        module_name, class_name = ENGINES[name].split(":")
    except KeyError:
        raise UsageError(f"unknown engine {name!r}; choose one of: {', '.join(ENGINES)}") from None
    engine_class = getattr(import_module(module_name), class_name)
    try:  # an option of another engine (e.g. a Spark master for DuckDB) is a usage error
        signature(engine_class).bind(**options)
    except TypeError as error:
        raise UsageError(f"engine {name} does not take these options: {error}") from None
    return engine_class(**options)
