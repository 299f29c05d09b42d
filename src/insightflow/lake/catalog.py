"""The Iceberg catalog of a lake: commit staged Parquet files, resolve tables to their files.

Writes follow one pattern (docs/PIPELINE.md): an engine writes Parquet into ``staging/``;
``commit`` moves the files into the table's data folder and records them in one Iceberg snapshot (an
``append``, or an ``overwrite`` that replaces every current file). A crash before the catalog
commit leaves files that no snapshot references, which readers never see; ``remove_orphans``
deletes them.

``LakeCatalog`` is what the rest of InsightFlow uses; its parts live beside it: which catalog the
settings choose (``catalog_choice``: PyIceberg's SQL catalog on the lake folder's SQLite file or on
PostgreSQL, REST or Glue), the transaction that writes a snapshot (``snapshots``), the retries of a
commit (``retries``), expiry and orphan cleanup (``expiry``), the PyIceberg workarounds
(``pyiceberg_fixes``). The files are in the lake's warehouse (``storage``): the lake folder or an
object store.
"""

from __future__ import annotations

import importlib
import logging
import os
import posixpath
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from insightflow.errors import LakeError, TableNotFound
from insightflow.lake.catalog_choice import open_catalog
from insightflow.lake.checksums import record_checksum
from insightflow.lake.expiry import clear_staging, expire_snapshots, remove_orphans
from insightflow.lake.layout import LakeLayout
from insightflow.lake.lease import LeaseLock
from insightflow.lake.lock import lake_lock
from insightflow.lake.repair import backup, check_catalog
from insightflow.lake.retries import retrying
from insightflow.lake.snapshots import commit_files, optional, republish_files
from insightflow.lake.storage import LakeStorage, S3Options
from insightflow.lake.tables import SnapshotInfo, TableFiles, duckdb_type

RUNS = "ops.runs"  # the run registry (insightflow.lake.runs), what readers follow
T = TypeVar("T")
P = TypeVar("P")
log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from pyiceberg.table import Table

# PyIceberg (with SQLAlchemy and pydantic) takes a second or more to import: it is imported on
# first use, so that commands that do not need the catalog (`--help`, `crawl`, `generate`) start fast.


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
        self._warming: threading.Thread | None = None
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
        return open_catalog(self.settings, self.storage, self.layout)

    def open_in_background(self) -> None:
        """Start opening the catalog (importing PyIceberg, about a second) on a background thread.

        For a caller with other work to do first, such as ingest parsing its files (DuckDB releases
        the GIL while it parses). The first use of the catalog waits for the opening to finish; an
        error in the background is left for that first use to raise.
        """
        if self._iceberg is not None or self._warming is not None:
            return  # open, or being opened

        def warm_up() -> None:
            try:
                self._catalog  # noqa: B018 - opened for its side effect
                importlib.import_module("pyiceberg.io.pyarrow")  # what a commit imports next
            except Exception:  # noqa: BLE001, S110 - the first use in the foreground raises it
                pass

        self._warming = threading.Thread(target=warm_up, name="insightflow-catalog-open", daemon=True)
        self._warming.start()

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
        columns = tuple((f.name, duckdb_type(f.field_type)) for f in schema.fields)
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
        loaded = [retrying(name, lambda: self._load_or_create(name, schema))]
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
            return retrying(name, attempt)
        finally:
            self._version = None  # this process changed the catalog: its readers look again at once

    def _commit_files(
        self, name: str, schema: pa.Schema, paths: list[str], overwrite: bool, properties: dict[str, str] | None,
        table: Table | None = None,
    ) -> int:
        """One Iceberg transaction (``insightflow.lake.snapshots``), then the expiry of old snapshots.

        ``table`` is ``name`` as just loaded, if it was (else it is loaded here).
        """
        table = table or self.load(name)
        commit_files(table, schema, paths, overwrite=overwrite, properties=properties or {})
        # The commit updated ``table`` to the new metadata: no reload needed.
        current = table.current_snapshot()
        assert current is not None
        try:
            self._expire_snapshots(table)
        except Exception as error:  # noqa: BLE001 - housekeeping: the commit stands, and is not retried
            log.warning("could not expire old snapshots of %s: %s", name, error)
        return current.snapshot_id

    def _expire_snapshots(self, table: Table) -> None:
        """Expire the table's snapshots beyond ``keep_snapshots`` (``insightflow.lake.expiry``)."""
        expire_snapshots(table, self.keep_snapshots, self.storage)

    def set_current_snapshot(self, name: str, snapshot_id: int) -> int:
        """Make an older snapshot's files current again, as a new overwrite snapshot."""
        files = self.resolve(name, snapshot_id).files
        table = self.load(name)
        republish_files(table, [self.storage.uri(path) for path in files],
                        properties={"insightflow.rollback-to": str(snapshot_id)})
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
        if clear_staging(self.storage, self.layout.tmp) and self.initialized():
            self.remove_orphans()  # a run died: it may have moved files it never committed

    def remove_orphans(self) -> int:
        """Delete data files that no snapshot of any table references (left by a crashed run)."""
        return remove_orphans((self.load(name) for name in self.table_names()), self.storage)

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
            return self._catalog.create_table(name, schema=optional(schema))
