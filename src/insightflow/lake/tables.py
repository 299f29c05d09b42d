"""What reading a table gives: its files and column types at one snapshot, and its history.

Plain values, so that the engines and the query service take a resolved table
without holding the catalog (``LakeCatalog.resolve`` and ``LakeCatalog.snapshots`` make them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyiceberg.types import IcebergType


@dataclass(frozen=True)
class TableFiles:
    """A table resolved at one snapshot: its data files and column types."""

    name: str
    snapshot_id: int | None
    files: tuple[str, ...]
    columns: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class SnapshotInfo:
    """One entry of a table's history."""

    snapshot_id: int
    parent_id: int | None
    committed_at: datetime
    operation: str
    summary: dict[str, str]


def duckdb_type(iceberg_type: IcebergType) -> str:
    """The DuckDB type of an Iceberg column (to give an empty table its typed columns)."""
    from pyiceberg import types

    if isinstance(iceberg_type, types.DecimalType):
        return f"DECIMAL({iceberg_type.precision},{iceberg_type.scale})"
    simple = {
        types.BooleanType: "BOOLEAN",
        types.IntegerType: "INTEGER",
        types.LongType: "BIGINT",
        types.FloatType: "FLOAT",
        types.DoubleType: "DOUBLE",
        types.DateType: "DATE",
        types.TimestampType: "TIMESTAMP",
        types.TimestamptzType: "TIMESTAMPTZ",
        types.StringType: "VARCHAR",
    }
    return simple.get(type(iceberg_type), "VARCHAR")
