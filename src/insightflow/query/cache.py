"""Caches that make repeated queries cheap without ever serving stale data.

A table at a snapshot never changes, so its resolved files and its Arrow copy are cached by
(table, snapshot id) for good. What is *current* (tables, run records, snapshot lists) is cached
only until the catalog database changes on disk.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from insightflow.lake import LakeCatalog, RunRecord, SnapshotInfo, TableFiles, list_runs
from insightflow.lake.storage import LakeStorage
from insightflow.query.masking import mask_table
from insightflow.quoting import ident

if TYPE_CHECKING:
    import pyarrow.dataset as ds

# Tables whose Parquet files are larger than this are scanned lazily, not held in memory.
_IN_MEMORY_MAX_FILE_BYTES = 256 * 1024 * 1024


class CatalogState:
    """Catalog metadata, memoized until ``catalog.db`` changes (every commit rewrites it)."""

    def __init__(self, catalog: LakeCatalog) -> None:
        self.catalog = catalog
        self._lock = threading.Lock()
        self._fingerprint: tuple | None = None
        self._memo: dict[tuple, object] = {}
        self._resolved: dict[tuple[str, int], TableFiles] = {}

    def version(self) -> tuple:
        """Changes whenever the catalog commits anything (a new run, ingest or rollback)."""
        return self.catalog.version()

    def table_names(self) -> list[str]:
        return self._cached(("tables",), self.catalog.table_names)

    def exists(self, name: str) -> bool:
        return name in self.table_names()

    def runs(self) -> list[RunRecord]:
        return self._cached(("runs",), lambda: list_runs(self.catalog))

    def snapshots(self, name: str) -> list[SnapshotInfo]:
        return self._cached(("snapshots", name), lambda: self.catalog.snapshots(name))

    def resolve(self, name: str, snapshot_id: int | None = None) -> TableFiles:
        """``name`` at ``snapshot_id`` (default: current); pinned snapshots are cached for good."""
        if snapshot_id is None:
            return self._cached(("current", name), lambda: self.catalog.resolve(name))
        key = (name, snapshot_id)
        if key not in self._resolved:
            self._resolved[key] = self.catalog.resolve(name, snapshot_id)
        return self._resolved[key]

    def _cached(self, key: tuple, compute: Callable[[], object]):
        fingerprint = self.catalog.version()
        with self._lock:
            if fingerprint != self._fingerprint:
                self._memo.clear()
                self._fingerprint = fingerprint
            if key in self._memo:
                return self._memo[key]
        value = compute()
        with self._lock:
            if fingerprint == self._fingerprint:
                self._memo[key] = value
        return value


class TableCache:
    """Arrow data of resolved tables, masked or not, least recently used evicted past a budget."""

    def __init__(self, max_bytes: int = 1_000_000_000, *, storage: LakeStorage | None = None) -> None:
        """``storage``: where the tables' files are (default: local files)."""
        self.max_bytes = max_bytes
        self.storage = storage or LakeStorage("/")
        self._lock = threading.Lock()
        self._tables: OrderedDict[tuple, pa.Table] = OrderedDict()
        self._bytes = 0

    def data(self, table: TableFiles, masked: bool) -> pa.Table | ds.Dataset:
        """The rows of ``table`` for DuckDB to scan (``masked``: PII columns replaced)."""
        key = (table.name, table.snapshot_id, table.files, masked)
        with self._lock:
            if key in self._tables:
                self._tables.move_to_end(key)
                return self._tables[key]
        dataset = self._dataset(table)
        if dataset is not None and not masked and self._file_bytes(table.files) > _IN_MEMORY_MAX_FILE_BYTES:
            return dataset
        data = dataset.to_table() if dataset is not None else _empty(table)
        if masked:
            data = mask_table(table.name, data)
        return self._remember(key, data)

    def _dataset(self, table: TableFiles) -> ds.Dataset | None:
        # Imported here: pyarrow.dataset imports pandas (~0.7 s), which a pipeline run needs only for
        # its Iceberg commits (PyIceberg imports it, off the critical path, while ingest parses).
        import pyarrow.dataset as ds

        if not table.files:
            return None
        storage = self.storage
        paths = [storage.arrow_path(p) for p in table.files]
        schemas = [ds.dataset(path, format="parquet", filesystem=storage.arrow_fs).schema for path in paths]
        # Files of older loads may lack columns added later (schema drift): read them as NULL.
        schema = pa.unify_schemas(schemas, promote_options="permissive")
        return ds.dataset(paths, schema=schema, format="parquet", filesystem=storage.arrow_fs)

    def _file_bytes(self, paths: tuple[str, ...]) -> int:
        return sum(self.storage.size(p) for p in paths)

    def derived(self, key: tuple, compute: Callable[[], pa.Table]) -> pa.Table:
        """A result computed from pinned snapshots (``key`` names them), cached like a table."""
        with self._lock:
            if key in self._tables:
                self._tables.move_to_end(key)
                return self._tables[key]
        return self._remember(key, compute())

    def _remember(self, key: tuple, data: pa.Table) -> pa.Table:
        """Keep ``data`` under ``key``, evicting the least recently used beyond ``max_bytes``."""
        with self._lock:
            self._tables[key] = data
            self._bytes += data.nbytes
            while self._bytes > self.max_bytes and len(self._tables) > 1:
                _, evicted = self._tables.popitem(last=False)
                self._bytes -= evicted.nbytes
        return data


def _empty(table: TableFiles) -> pa.Table:
    """A typed, empty table for a table with no data file yet."""
    columns = ", ".join(f"CAST(NULL AS {kind}) AS {ident(name)}" for name, kind in table.columns)
    con = duckdb.connect()
    try:
        return con.sql(f"SELECT {columns} WHERE false").to_arrow_table()
    finally:
        con.close()



