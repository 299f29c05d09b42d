"""The Iceberg catalog of a lake: commit staged Parquet files, resolve tables to their files.

Writes follow one pattern (docs/PIPELINE.md): an engine writes Parquet into ``staging/``;
``commit`` moves the files into the table's data folder and records them in one Iceberg snapshot (an
``append``, or an ``overwrite`` that replaces every current file). A crash before the catalog
commit leaves files that no snapshot references, which readers never see; ``remove_orphans``
deletes them.

The catalog is PyIceberg's SQL catalog — on the lake folder's SQLite file by default, on
PostgreSQL with ``[catalog] uri`` — or an Iceberg REST catalog (``[catalog] type = "rest"``); the
files are in the lake's warehouse (``insightflow.lake.storage``): the lake folder or an object store.
"""

from __future__ import annotations

import errno
import fcntl
import importlib
import logging
import os
import posixpath
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from insightflow.errors import LakeError, TableNotFound, UsageError
from insightflow.lake.checksums import SIDECAR, delete_checksum, record_checksum
from insightflow.lake.layout import LakeLayout
from insightflow.lake.lease import LeaseLock
from insightflow.lake.lock import lake_lock
from insightflow.lake.repair import backup, check_catalog
from insightflow.lake.storage import LakeStorage, S3Options

RUNS = "ops.runs"  # the run registry (insightflow.lake.runs), what readers follow
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


class LakeCatalog:
    """The Iceberg catalog of one lake, and the storage of its files."""

    def __init__(self, layout: LakeLayout, *, keep_snapshots: int | None = None, settings=None) -> None:  # noqa: ANN001
        """``keep_snapshots``: snapshots kept per table (0: all); default: the lake's setting.
        ``settings``: the lake's (``insightflow.settings.Settings``), read from it by default."""
        from insightflow.settings import Settings

        self.layout = layout
        self.settings = settings or Settings.load(layout.root)
        self.storage = LakeStorage(self.settings.warehouse or layout.root,
                                   S3Options.from_environment(self.settings.s3_sse, self.settings.s3_sse_kms_key_id))
        self._iceberg = None
        self._opening = threading.Lock()
        self._creating = threading.Lock()
        self._keep_snapshots = keep_snapshots
        self._lease: LeaseLock | None = None  # held while this process writes a shared lake
        self._version: tuple[float, tuple] | None = None

    @property
    def keep_snapshots(self) -> int:
        if self._keep_snapshots is None:
            self._keep_snapshots = self.settings.keep_snapshots
        return self._keep_snapshots

    @property
    def local(self) -> bool:
        """Whether the catalog is the lake folder's own SQLite file (not shared with other machines)."""
        return self.settings.catalog_type == "sql" and not self.settings.catalog_uri

    def prepare(self) -> None:
        """Create the lake's folders (a reader creates nothing: looking at a path makes no lake)."""
        self.layout.create()
        for folder in (self.storage.warehouse, self.storage.landing, self.storage.staging):
            self.storage.makedirs(folder)

    def concurrently(self, operation: Callable[[P], T], items: Sequence[P]) -> list[T]:
        """``operation`` on each item (commits of different tables), four at a time on an object
        store (where they mostly wait for requests), one after the other on a local lake; the first
        error is raised once the others are done."""
        if not self.storage.remote or len(items) < 2:
            return [operation(item) for item in items]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="insightflow-commit") as pool:
            futures = [pool.submit(operation, item) for item in items]
            return [future.result() for future in futures]

    @contextmanager
    def lock(self, timeout: float = 60.0) -> Iterator[None]:
        """Hold the lake's write lock: one run (or ingest, or rollback) at a time writes to a lake.

        A lake on this machine: an ``flock`` on the lake folder's ``.lock``. A lake in an object
        store, which other machines may share: the lease of ``insightflow.lake.lease``, for
        ``[lake] lock_lease`` seconds, renewed while held; commits are refused once it is lost.
        """
        self.prepare()
        if not self.storage.remote:
            with lake_lock(self.layout, timeout):
                yield
            return
        lease = LeaseLock(self.storage, self.settings.lock_lease)
        lease.acquire(timeout)
        self._lease = lease
        try:
            yield
        finally:
            self._lease = None
            lease.release()

    def version(self) -> tuple:
        """Changes whenever the catalog commits anything that readers follow (a run, a rollback).

        The lake folder's SQLite catalog: a stat of the file and its journals, plus its change
        counter (bytes 24-27 of the header, bumped by every committed transaction:
        https://www.sqlite.org/fileformat.html) — no query. A shared catalog: the metadata file of
        ``ops.runs``, which every run and rollback appends to.
        """
        if not self.local:  # asked at most once a second (a dashboard asks on every rerun)
            now = time.monotonic()
            if self._version is None or now - self._version[0] > 1.0:
                try:
                    location = self._catalog.load_table(RUNS).metadata_location
                except Exception:  # noqa: BLE001 - no run yet (or the catalog is unreachable): no version
                    location = None
                self._version = (now, ("ops.runs", location))
            return self._version[1]
        stats: list = []
        path = self.layout.catalog_db
        for suffix in ("", "-wal", "-journal"):
            try:
                st = os.stat(f"{path}{suffix}")
                stats.append((st.st_ino, st.st_size, st.st_mtime_ns))
            except FileNotFoundError:
                stats.append(None)
        try:
            with open(path, "rb") as handle:
                handle.seek(24)
                stats.append(handle.read(4))
        except FileNotFoundError:
            stats.append(None)
        return tuple(stats)

    def initialized(self) -> bool:
        """Whether the lake holds anything yet (a run or a load was recorded in its catalog)."""
        if self.local:
            if self.layout.catalog_db.exists():
                return True
            if not self.storage.remote:  # no catalog: a new lake, unless the warehouse holds tables
                check_catalog(self.layout.catalog_db, Path(self.storage.warehouse))
            return False
        return bool(self._catalog.list_namespaces())

    def check(self) -> None:
        """Refuse a lake folder whose own catalog is missing, empty or corrupt while its warehouse
        holds tables (``insightflow.lake.repair``): before a run changes anything."""
        if self.local and not self.storage.remote:
            check_catalog(self.layout.catalog_db, Path(self.storage.warehouse))

    def backup(self) -> None:
        """Keep a consistent copy of the lake folder's own catalog (after a published run); a
        shared catalog is backed up by its own server."""
        if self.local:
            backup(self.layout.catalog_db)

    @property
    def _catalog(self):  # noqa: ANN202 - a pyiceberg catalog, imported on first use
        """The PyIceberg catalog, opened on first use (so that a run can parse before it is needed)."""
        with self._opening:
            if self._iceberg is None:
                self._iceberg = self._open()
            return self._iceberg

    def _open(self):  # noqa: ANN202
        settings = self.settings
        properties = {**self.storage.s3.iceberg_properties(), **settings.catalog_properties} if self.storage.remote \
            else dict(settings.catalog_properties)
        if settings.catalog_type == "glue":  # AWS Glue's Data Catalog, as Athena and Glue jobs read it
            from pyiceberg.catalog import load_catalog

            if self.storage.s3.region:
                properties.setdefault("glue.region", self.storage.s3.region)
            return load_catalog("insightflow", type="glue", warehouse=self.storage.uri(self.storage.warehouse),
                                **properties)
        if settings.catalog_type == "rest":
            from pyiceberg.catalog import load_catalog

            if not settings.catalog_uri:
                raise UsageError("a REST catalog needs its URL: [catalog] uri or INSIGHTFLOW_CATALOG_URI")
            if settings.catalog_token:
                properties["token"] = settings.catalog_token
            return load_catalog("insightflow", type="rest", uri=settings.catalog_uri,
                                warehouse=settings.catalog_warehouse or self.storage.uri(self.storage.warehouse),
                                **properties)
        from pyiceberg.catalog.sql import SqlCatalog

        if not settings.catalog_uri:
            self.layout.root.mkdir(parents=True, exist_ok=True)  # the SQLite file goes there
            if not self.storage.remote:
                check_catalog(self.layout.catalog_db, Path(self.storage.warehouse))
                self._follow_a_move()
        uri = settings.catalog_uri or f"sqlite:///{self.layout.catalog_db}"
        return SqlCatalog("insightflow", uri=uri, warehouse=self.storage.uri(self.storage.warehouse), **properties)

    def _follow_a_move(self) -> None:
        """Point the tables of a lake folder that was copied or moved at their new place
        (``insightflow.lake.relocate``), once, before anything reads them."""
        from insightflow.lake.relocate import moved_from, relocate

        warehouse = Path(self.storage.warehouse)
        if moved_from(self.layout.catalog_db, warehouse) is None:
            return
        with open(self.layout.root / ".relocate.lock", "a+") as guard:
            fcntl.flock(guard, fcntl.LOCK_EX)  # two processes opening the moved lake take turns
            old = moved_from(self.layout.catalog_db, warehouse)
            if old is not None:
                count = relocate(self.layout.catalog_db, warehouse, old)
                sys.stderr.write(f"insightflow: the lake at {self.layout.root} was copied or moved from "
                                 f"{old.removeprefix('file://').removesuffix('/warehouse/')}: {count} metadata "
                                 "files now point at its own folder\n")

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
            files = tuple(self.storage.location(task.file.file_path) for task in scan.plan_files())
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
        staged_files: Sequence[str | Path],
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
        if self._lease is not None:
            self._lease.check()  # a writer that lost the lake's lease publishes nothing more
        schemas = []
        for staged in map(str, staged_files):
            try:
                schemas.append(self.parquet_schema(staged))
            except (pa.ArrowInvalid, OSError) as error:
                raise LakeError(f"{name}: the staged file {staged} is not valid Parquet ({error}); "
                                "nothing more of this run is published") from None
        schema = schemas[0]
        loaded = [_retrying(name, lambda: self._load_or_create(name, schema))]
        storage = self.storage
        data_dir = storage.location(loaded[0].location()).rstrip("/") + "/data"
        storage.makedirs(data_dir)
        prefix = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        final_paths = []
        for index, staged in enumerate(map(str, staged_files)):
            target = f"{data_dir}/{prefix}-{index:05d}.parquet"
            record_checksum(storage, staged, target)  # for `insightflow verify`
            storage.move(staged, target)
            final_paths.append(storage.uri(target))

        def attempt() -> int:  # the table as just loaded, then (on a retry) as it is now
            return self._commit_files(name, schema, final_paths, overwrite, properties,
                                      table=loaded.pop() if loaded else None)

        try:
            return _retrying(name, attempt)
        finally:
            self._version = None  # this process changed the catalog: its readers look again at once

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
            self.storage.delete(self.storage.location(path))
            delete_checksum(self.storage, self.storage.location(path))

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
                    snapshot.append_data_file(
                        parquet_file_to_data_file(table.io, tx.table_metadata, self.storage.uri(path)))
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
        table = pa.concat_tables([self.read_parquet(f) for f in files], promote_options="permissive")
        target = self.write_parquet(table, f"{staging}/compacted-{name}.parquet")
        return self.commit(name, [target], overwrite=True, properties={"insightflow.compacted": str(len(files))})

    # --- files ---------------------------------------------------------------------------------

    def read_parquet(self, location: str, schema: pa.Schema | None = None) -> pa.Table:
        return pq.read_table(self.storage.arrow_path(location), schema=schema, filesystem=self.storage.arrow_fs)

    def write_parquet(self, table: pa.Table, location: str) -> str:
        """Write ``table`` as a zstd Parquet file at ``location`` (in the warehouse); returns it."""
        self.storage.makedirs(posixpath.dirname(location))
        pq.write_table(table, self.storage.arrow_path(location), filesystem=self.storage.arrow_fs,
                       compression="zstd")
        return location

    def parquet_metadata(self, location: str) -> pq.FileMetaData:
        with self.storage.open(location) as handle:
            return pq.ParquetFile(handle).metadata

    def parquet_schema(self, location: str) -> pa.Schema:
        with self.storage.open(location) as handle:
            return pq.read_schema(handle)

    def row_count(self, table: TableFiles) -> int:
        """Rows in a resolved table, from the Parquet footers (no data read)."""
        return sum(self.parquet_metadata(path).num_rows for path in table.files)

    def file_bytes(self, paths: Iterable[str]) -> int:
        return sum(self.storage.size(p) for p in paths)

    def clean_staging(self) -> None:
        """Remove what a crashed run left: staged files, and data files no snapshot references
        (called holding the lake's lock: no other run is writing)."""
        storage = self.storage
        leftovers = storage.list_tree(storage.staging)
        if self.layout.tmp.exists():  # spill files of a run that died
            shutil.rmtree(self.layout.tmp, ignore_errors=True)
        if storage.remote:
            storage.delete_tree(storage.staging)
        else:
            for leftover in Path(storage.staging).iterdir():
                shutil.rmtree(leftover, ignore_errors=True) if leftover.is_dir() else leftover.unlink(missing_ok=True)
        if leftovers and self.initialized():  # a run died: it may have moved files it never committed
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
                        referenced.add(self.storage.location(entry.data_file.file_path))
            data_dir = self.storage.location(table.location()).rstrip("/") + "/data"
            if not _inside(data_dir, self.storage.warehouse):  # never another lake's files
                continue
            for path in self.storage.list(data_dir, ".parquet"):
                if path not in referenced and _inside(path, self.storage.warehouse):
                    self.storage.delete(path)
                    delete_checksum(self.storage, path)
                    removed += 1
            if not self.storage.remote:  # checksums of files that were never moved in
                for sidecar in self.storage.list(data_dir, SIDECAR):
                    if not Path(sidecar.removesuffix(SIDECAR)).exists() and _inside(sidecar, self.storage.warehouse):
                        self.storage.delete(sidecar)
        return removed

    def _load_or_create(self, name: str, schema: pa.Schema) -> Table:
        from pyiceberg.exceptions import NamespaceAlreadyExistsError, NoSuchTableError

        try:
            return self._catalog.load_table(name)
        except NoSuchTableError:
            pass
        with self._creating:  # commits of several tables at once may want the same new namespace
            namespace = name.split(".")[0]
            if (namespace,) not in self._catalog.list_namespaces():
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


def _inside(location: str, warehouse: str) -> bool:
    """Whether ``location`` is under ``warehouse`` (both as ``LakeStorage`` spells locations)."""
    root = warehouse.rstrip("/") + "/"
    if "://" in warehouse:
        return location.startswith(root)
    return os.path.realpath(location).startswith(os.path.realpath(root.rstrip("/")) + os.sep)


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
