"""Where the catalog works around PyIceberg (0.12.0): each function names what it fixes and why.

Each can go once a PyIceberg release fixes what it names; ``tests/test_snapshot_retention.py``
fails if an overwritten table's manifests pile up again.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from pyiceberg.table import Table, Transaction
    from pyiceberg.table.metadata import TableMetadata

P = TypeVar("P")


def live_manifests_only(producer: P) -> P:
    """An overwrite that leaves out of the new snapshot the manifests holding only deleted entries.

    PyIceberg 0.12.0's ``_OverwriteFiles._existing_manifests`` carries every earlier manifest whose
    entries are all DELETED into each new overwrite snapshot: it reads them with
    ``discard_deleted=True``, finds nothing to delete and keeps the manifest. It is the bug
    apache/iceberg-go#1153 fixed in Go (apache/iceberg-go#1154); PyIceberg 0.12.0 has no fix (a
    pull request merging manifests on overwrite, apache/iceberg-python#3103, was closed). A table
    replaced on every run gained one manifest a run, which every later scan and commit read — a
    commit took 0.07 s on a new table, 1.3 s after 100 runs. Such a manifest records deletions
    made by an earlier snapshot, which keeps it; it has no file for the new one. Manifests without
    counts are kept.
    """
    existing = producer._existing_manifests  # noqa: SLF001 - the step that carries manifests over

    def live() -> list:
        return [m for m in existing() if not (
            m.added_files_count == 0 and m.existing_files_count == 0 and (m.deleted_files_count or 0) > 0
        )]

    producer._existing_manifests = live  # noqa: SLF001
    return producer


def name_mapping_property(metadata: TableMetadata) -> dict[str, str]:
    """The table's default name mapping as a property to set, if it has none yet (else nothing).

    Parquet files written without Iceberg field ids, as DuckDB and Spark write them, are read
    through the name mapping. PyIceberg 0.12.0 sets it only in ``Transaction.add_files``, which
    makes an append snapshot of its own and cannot replace a table's files in the same snapshot;
    the catalog adds the files itself (``parquet_file_to_data_file``), so it sets it itself.
    """
    from pyiceberg.table import TableProperties

    if metadata.name_mapping() is not None:
        return {}
    return {TableProperties.DEFAULT_NAME_MAPPING: metadata.schema().name_mapping.model_dump_json()}


def transaction(table: Table) -> Transaction:
    """``table.transaction()``, whose ``table_metadata`` is computed once per state, not per read.

    PyIceberg 0.12.0's ``Transaction.table_metadata`` replays the staged updates and deep-copies
    the whole metadata (every kept snapshot and its summary) on each read, and a commit read it 20
    times (an append) or 31 times (an overwrite), each copy growing with the table's history: on a
    table of 30-50 snapshots a commit took 44-56 ms, 37-38 ms with two copies. The result is
    kept while the table's metadata and the staged updates are the same objects (an update
    rebinds the tuple of updates; a commit replaces the table's metadata), as
    apache/iceberg-python#3302 and #3784 proposed; neither is merged in 0.12.0.
    """
    return _cached_transaction_class()(table)


@cache
def _cached_transaction_class() -> type:
    from pyiceberg.table import Transaction

    class CachedTransaction(Transaction):
        _cached: tuple[object, object, TableMetadata] | None = None

        @property
        def table_metadata(self) -> TableMetadata:
            cached = self._cached
            if cached is None or cached[0] is not self._table.metadata or cached[1] is not self._updates:
                cached = self._cached = (self._table.metadata, self._updates, super().table_metadata)
            return cached[2]

    return CachedTransaction
