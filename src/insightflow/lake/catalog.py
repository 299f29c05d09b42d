"""The Iceberg catalog of a lake: commit staged Parquet files, resolve tables to their files.

Writes follow one pattern (DESIGN.md): an engine writes Parquet into ``staging/``; ``commit`` moves
the files into the table's data folder and records them in one Iceberg snapshot (an ``append``, or
an ``overwrite`` that replaces every current file). A crash before the catalog commit leaves files
that no snapshot references, which readers never see; ``remove_orphans`` deletes them.
"""

from __future__ import annotations

import errno
import importlib
import logging
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from insightflow.errors import LakeError, TableNotFound
from insightflow.lake.layout import LakeLayout

T = TypeVar("T")
P = TypeVar("P")
log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from pyiceberg.table import Table
    from pyiceberg.types import IcebergType

# PyIceberg (with SQLAlchemy and pydantic) takes a second or more to import: it is imported on
# first use, so that commands that do not need the catalog (`--help`, `crawl`, `generate`) start fast.


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


def _duckdb_type(iceberg_type: IcebergType) -> str:
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


def _local_path(uri: str) -> str:
    return uri.removeprefix("file://")


class LakeCatalog:
    """The SQL (SQLite) Iceberg catalog of one lake."""

    def __init__(self, layout: LakeLayout, *, keep_snapshots: int | None = None) -> None:
        """``keep_snapshots``: snapshots kept per table (0: all); default: the lake's setting."""
        self.layout = layout
        layout.create()
        self._iceberg = None
        self._opening = threading.Lock()
        self._keep_snapshots = keep_snapshots

    @property
    def keep_snapshots(self) -> int:
        if self._keep_snapshots is None:
            from insightflow.settings import Settings

            self._keep_snapshots = Settings.load(self.layout.root).keep_snapshots
        return self._keep_snapshots

    @property
    def _catalog(self):  # noqa: ANN202 - a pyiceberg SqlCatalog, imported on first use
        """The PyIceberg catalog, opened on first use (so that a run can parse before it is needed)."""
        with self._opening:
            if self._iceberg is None:
                from pyiceberg.catalog.sql import SqlCatalog

                self._iceberg = SqlCatalog(
                    "insightflow",
                    uri=f"sqlite:///{self.layout.catalog_db}",
                    warehouse=self.layout.warehouse.as_uri(),
                )
            return self._iceberg

    def open_in_background(self) -> None:
        """Start opening the catalog (importing PyIceberg, about a second) on a background thread.

        For a caller with other work to do first, such as ingest parsing its files (DuckDB releases
        the GIL while it parses). The first use of the catalog waits for the opening to finish; an
        error in the background is left for that first use to raise.
        """
        if self._iceberg is not None:
            return

        def open_catalog() -> None:
            try:
                self._catalog  # noqa: B018 - opened for its side effect
                importlib.import_module("pyiceberg.io.pyarrow")  # what a commit imports next
            except Exception:  # noqa: BLE001, S110 - the first use in the foreground raises it
                pass

        threading.Thread(target=open_catalog, name="insightflow-catalog-open", daemon=True).start()

    # --- reading -------------------------------------------------------------------------------

    def table_names(self) -> list[str]:
        """Every table as ``namespace.table``, sorted."""
        names = []
        for (namespace,) in self._catalog.list_namespaces():
            names += [".".join(ident) for ident in self._catalog.list_tables(namespace)]
        return sorted(names)

    def exists(self, name: str) -> bool:
        return self._catalog.table_exists(name)

    def load(self, name: str) -> Table:
        from pyiceberg.exceptions import NoSuchTableError

        try:
            return self._catalog.load_table(name)
        except NoSuchTableError:
            raise TableNotFound(f"no table {name} in the lake at {self.layout.root}") from None

    def resolve(self, name: str, snapshot_id: int | None = None) -> TableFiles:
        """The data files of ``name`` at ``snapshot_id`` (default: its current snapshot)."""
        table = self.load(name)
        if snapshot_id is not None and table.snapshot_by_id(snapshot_id) is None:
            raise LakeError(f"table {name} has no snapshot {snapshot_id} (the lake keeps each table's last "
                            f"{self.keep_snapshots or 'all'} snapshots: setting keep_snapshots)")
        snapshot = table.snapshot_by_id(snapshot_id) if snapshot_id else table.current_snapshot()
        files: tuple[str, ...] = ()
        if snapshot is not None:
            scan = table.scan(snapshot_id=snapshot.snapshot_id)
            files = tuple(_local_path(task.file.file_path) for task in scan.plan_files())
        schema = table.schema() if snapshot is None else table.schemas()[snapshot.schema_id or 0]
        columns = tuple((f.name, _duckdb_type(f.field_type)) for f in schema.fields)
        return TableFiles(name, snapshot.snapshot_id if snapshot else None, files, columns)

    def current_snapshot_id(self, name: str) -> int | None:
        """The id of the current snapshot of ``name``; None when the table or a snapshot is missing."""
        if not self.exists(name):
            return None
        snapshot = self.load(name).current_snapshot()
        return snapshot.snapshot_id if snapshot else None

    def empty_snapshot(self, name: str) -> int | None:
        """The current snapshot id of ``name`` if the table exists and holds no row, else None."""
        try:
            snapshot = self.load(name).current_snapshot()
        except TableNotFound:
            return None
        if snapshot is None or snapshot.summary is None:
            return None
        return snapshot.snapshot_id if snapshot.summary.get("total-records") == "0" else None

    def snapshots(self, name: str) -> list[SnapshotInfo]:
        """A table's snapshots, oldest first."""
        table = self.load(name)
        return [
            SnapshotInfo(
                snapshot_id=s.snapshot_id,
                parent_id=s.parent_snapshot_id,
                committed_at=datetime.fromtimestamp(s.timestamp_ms / 1000, tz=UTC),
                operation=str(s.summary.operation.value) if s.summary else "",
                summary=dict(s.summary.additional_properties) if s.summary else {},
            )
            for s in table.snapshots()
        ]

    # --- writing -------------------------------------------------------------------------------

    def commit(
        self,
        name: str,
        staged_files: Sequence[Path],
        *,
        overwrite: bool,
        properties: dict[str, str] | None = None,
    ) -> int:
        """Publish staged Parquet files as one new snapshot of ``name``; returns its id.

        Creates the table (from the files' schema) on first use and adds new columns on drift.
        With ``overwrite`` the snapshot replaces every current file, else it appends.
        """
        if not staged_files:
            raise LakeError(f"nothing staged for {name}")
        schemas = []
        for staged in staged_files:
            try:
                schemas.append(pq.read_schema(staged))
            except (pa.ArrowInvalid, OSError) as error:
                raise LakeError(f"{name}: the staged file {staged} is not valid Parquet ({error}); "
                                "nothing more of this run is published") from None
        schema = schemas[0]
        loaded = [_retrying(name, lambda: self._load_or_create(name, schema))]
        data_dir = Path(_local_path(loaded[0].location())) / "data"
        data_dir.mkdir(parents=True, exist_ok=True)
        prefix = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        final_paths = []
        for index, staged in enumerate(staged_files):
            target = data_dir / f"{prefix}-{index:05d}.parquet"
            shutil.move(staged, target)
            final_paths.append(str(target))

        def attempt() -> int:  # the table as just loaded, then (on a retry) as it is now
            return self._commit_files(name, schema, final_paths, overwrite, properties,
                                      table=loaded.pop() if loaded else None)

        return _retrying(name, attempt)

    def _commit_files(
        self, name: str, schema: pa.Schema, paths: list[str], overwrite: bool, properties: dict[str, str] | None,
        table: Table | None = None,
    ) -> int:
        """One Iceberg transaction: evolve the schema if needed, then append or replace the files.

        ``table`` is ``name`` as just loaded, if it was (else it is loaded here).

        PyIceberg rebuilds (deep-copies) the table metadata on every read of
        ``Transaction.table_metadata``, so it is read only when it may have changed.
        """
        from pyiceberg.io.pyarrow import parquet_file_to_data_file
        from pyiceberg.table import TableProperties

        table = table or self.load(name)
        with table.transaction() as tx:
            metadata = table.metadata
            known = {c.name for c in metadata.schema().fields}
            if any(f.name not in known for f in schema):
                with tx.update_schema() as update:
                    update.union_by_name(_optional(schema))
                metadata = tx.table_metadata
            missing = {key: value for key, value in _TABLE_PROPERTIES.items() if key not in metadata.properties}
            if metadata.name_mapping() is None:
                missing[TableProperties.DEFAULT_NAME_MAPPING] = metadata.schema().name_mapping.model_dump_json()
            if missing:
                tx.set_properties(**missing)
            update_snapshot = tx.update_snapshot(snapshot_properties=properties or {})
            # An append merges the table's manifests once there are 16 (TABLE_PROPERTIES): else each
            # load adds one, which every later scan and commit reads.
            producer = _live_manifests_only(update_snapshot.overwrite()) if overwrite else update_snapshot.merge_append()
            with producer as snapshot:
                if overwrite:
                    for task in table.scan().plan_files():
                        snapshot.delete_data_file(task.file)
                metadata = tx.table_metadata
                for path in paths:
                    snapshot.append_data_file(parquet_file_to_data_file(table.io, metadata, path))
        # The commit updated ``table`` to the new metadata: no reload needed.
        current = table.current_snapshot()
        assert current is not None
        try:
            self._expire_snapshots(table)
        except Exception as error:  # noqa: BLE001 - housekeeping: the commit stands, and is not retried
            log.warning("could not expire old snapshots of %s: %s", name, error)
        return current.snapshot_id

    def _expire_snapshots(self, table: Table) -> None:
        """Expire the table's oldest snapshots beyond ``keep_snapshots`` and delete their files.

        Every snapshot stays in the table's metadata, which PyIceberg copies many times per commit:
        without expiry a commit took 0.05 s on a new table and 0.77 s after 200 runs. Expiring in
        batches (when the count exceeds the limit by half) makes the file walk below rare. A file is
        deleted only when no kept snapshot mentions it (as live or deleted). Readers of an expired
        snapshot (``--as-of`` an old run) get an error naming the setting.
        """
        keep = self.keep_snapshots
        snapshots = sorted(table.snapshots(), key=lambda s: (s.sequence_number or 0, s.timestamp_ms))
        if not keep or len(snapshots) <= keep + max(1, keep // 2):
            return
        current = table.current_snapshot()
        expired = [s for s in snapshots[:-keep] if current is None or s.snapshot_id != current.snapshot_id]
        expired_ids = {s.snapshot_id for s in expired}
        kept = _referenced(table, [s for s in snapshots if s.snapshot_id not in expired_ids])
        unreferenced = _referenced(table, expired, known=kept) - kept
        table.maintenance.expire_snapshots().by_ids([s.snapshot_id for s in expired]).commit()
        for path in unreferenced:
            Path(_local_path(path)).unlink(missing_ok=True)

    def set_current_snapshot(self, name: str, snapshot_id: int) -> int:
        """Make an older snapshot's files current again, as a new overwrite snapshot."""
        from pyiceberg.io.pyarrow import parquet_file_to_data_file

        files = self.resolve(name, snapshot_id).files
        table = self.load(name)
        with table.transaction() as tx:
            update_snapshot = tx.update_snapshot(
                snapshot_properties={"insightflow.rollback-to": str(snapshot_id)}
            )
            with _live_manifests_only(update_snapshot.overwrite()) as snapshot:
                for task in table.scan().plan_files():
                    snapshot.delete_data_file(task.file)
                for path in files:
                    snapshot.append_data_file(parquet_file_to_data_file(table.io, tx.table_metadata, path))
        table.refresh()
        current = table.current_snapshot()
        assert current is not None
        return current.snapshot_id

    def compact(self, name: str, staging: Path, max_files: int = 16) -> int | None:
        """Rewrite ``name`` as one data file once it has more than ``max_files`` (the small files
        one row per run leaves in ``ops.*``); returns the new snapshot id, or None if not needed."""
        files = self.resolve(name).files
        if len(files) <= max_files:
            return None
        table = pa.concat_tables([pq.read_table(f) for f in files], promote_options="permissive")
        staging.mkdir(parents=True, exist_ok=True)
        target = staging / f"compacted-{name}.parquet"
        pq.write_table(table, target, compression="zstd")
        return self.commit(name, [target], overwrite=True, properties={"insightflow.compacted": str(len(files))})

    def clean_staging(self) -> None:
        """Remove what a crashed run left: staged files, and data files no snapshot references."""
        staging = self.layout.staging
        leftovers = list(staging.iterdir()) if staging.exists() else []
        if self.layout.tmp.exists():  # spill files of a run that died
            shutil.rmtree(self.layout.tmp, ignore_errors=True)
        for leftover in leftovers:
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
        if leftovers and self.layout.exists():  # a run died: it may have moved files it never committed
            self.remove_orphans()

    def remove_orphans(self) -> int:
        """Delete data files that no snapshot of any table references (left by a crashed run)."""
        removed = 0
        for name in self.table_names():
            table = self.load(name)
            referenced: set[str] = set()
            for snapshot in table.snapshots():
                for manifest in snapshot.manifests(table.io):
                    for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=False):
                        referenced.add(_local_path(entry.data_file.file_path))
            data_dir = Path(_local_path(table.location())) / "data"
            for path in data_dir.glob("*.parquet") if data_dir.exists() else ():
                if str(path) not in referenced:
                    path.unlink()
                    removed += 1
        return removed

    def _load_or_create(self, name: str, schema: pa.Schema) -> Table:
        from pyiceberg.exceptions import NamespaceAlreadyExistsError, NoSuchTableError

        try:
            return self._catalog.load_table(name)
        except NoSuchTableError:
            pass
        namespace = name.split(".")[0]
        try:
            self._catalog.create_namespace(namespace)
        except NamespaceAlreadyExistsError:
            pass
        return self._catalog.create_table(name, schema=_optional(schema))


#: Set on every table: PyIceberg deletes a table's metadata files beyond the newest 10 on commit
#: (only the newest is read; the others pile up, one per commit, otherwise), and appends merge the
#: manifests when there are 16 of them.
_TABLE_PROPERTIES = {
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "10",
    "commit.manifest-merge.enabled": "true",
    "commit.manifest.min-count-to-merge": "16",
}


def _referenced(table: Table, snapshots: Iterable, known: set[str] = frozenset()) -> set[str]:
    """Every file the snapshots mention: manifest lists, manifests and data files (live or deleted).

    Snapshots share manifests (an append keeps every earlier one): each is read once, and not at
    all when it is in ``known`` (files found already, with everything their manifests mention).
    """
    paths: set[str] = set()
    for snapshot in snapshots:
        paths.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(table.io):
            if manifest.manifest_path in paths or manifest.manifest_path in known:
                continue
            paths.add(manifest.manifest_path)
            for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=False):
                paths.add(entry.data_file.file_path)
    return paths


def _live_manifests_only(producer: P) -> P:
    """An overwrite that leaves out of the new snapshot the manifests holding only deleted entries.

    PyIceberg (0.12) carries every earlier manifest whose entries are all DELETED into each new
    overwrite snapshot (the bug apache/iceberg-go#1153 fixed in Go): a table replaced on every run
    gained one manifest a run, which every later scan and commit read — a commit took 0.07 s on a
    new table, 1.3 s after 100 runs. Such a manifest records deletions made by an earlier snapshot,
    which keeps it; it has no file for the new one. Manifests without counts are kept.
    """
    existing = producer._existing_manifests  # noqa: SLF001 - the step that carries manifests over

    def live() -> list:
        return [m for m in existing() if not (
            m.added_files_count == 0 and m.existing_files_count == 0 and (m.deleted_files_count or 0) > 0
        )]

    producer._existing_manifests = live  # noqa: SLF001
    return producer


def _optional(schema: pa.Schema) -> pa.Schema:
    """``schema`` with every column optional.

    DuckDB marks a Parquet column "required" when it knows the column holds no NULL (it does when
    it writes from a table), and a table or column created from such a file would refuse the next
    file that has one.
    """
    return pa.schema([field.with_nullable(True) for field in schema])


#: Attempts of a catalog operation that failed for a transient reason, and the first pause.
RETRIES, BACKOFF_SECONDS = 4, 0.1
_TRANSIENT_ERRNOS = {errno.EAGAIN, errno.EBUSY, errno.EINTR, errno.ETIMEDOUT}


def _transient(error: BaseException) -> bool:
    """Worth retrying: a busy file or database, an interrupted call, a concurrent commit."""
    if isinstance(error, OSError):
        return error.errno in _TRANSIENT_ERRNOS
    text = f"{type(error).__name__}: {error}".lower()
    return "database is locked" in text or "commitfailed" in text or "busy" in text


def _retrying(name: str, operation: Callable[[], T]) -> T:
    """Run a catalog operation, retrying transient failures with exponential backoff.

    Permanent failures (disk full, permission denied, a corrupt file) fail at once, as a
    ``LakeError`` naming the table and the cause.
    """
    for attempt in range(RETRIES):
        try:
            return operation()
        except LakeError:
            raise
        except Exception as error:
            if _transient(error) and attempt < RETRIES - 1:
                time.sleep(BACKOFF_SECONDS * 4**attempt)
                continue
            cause = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            raise LakeError(f"committing {name} failed: {' '.join(cause.split())[:300]}") from error
    raise AssertionError("unreachable")


def row_count(table: TableFiles) -> int:
    """Rows in a resolved table, from the Parquet footers (no data read)."""
    return sum(pq.ParquetFile(path).metadata.num_rows for path in table.files)


def file_bytes(paths: Iterable[str]) -> int:
    return sum(Path(p).stat().st_size for p in paths)
