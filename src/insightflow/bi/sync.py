"""Serve the lake's published run in a PostgreSQL-protocol database, for BI tools.

A sync is one transaction of the serving database, under a transaction-level advisory lock (two
syncs take turns): it reads the newest published run of the lake, and either

- finds it served already (``current``),
- sends what changed since the served run (``incremental``): per table, the rows of the data files
  the lake's snapshots removed and added since then are compared (DuckDB's ``EXCEPT``), and only
  the rows that differ are sent (``COPY``), after deleting the keys they replace or that are gone;
- or rebuilds everything (``full``): when nothing is served yet, the served run is not in this lake
  or its snapshots expired, the served layout (columns, keys, views) is another, or ``full=True``.
  The served schemas are dropped and made again, loaded with ``COPY``, then keyed, indexed and
  commented; the KPI views, roles and grants are made again.

Until the transaction commits, readers see the previous run; a sync that dies (killed, connection
lost) leaves it served. The database records what it serves in ``insightflow_bi.served`` and every
sync in ``insightflow_bi.syncs``; BI users read it as ``kpi.served_run``.
"""

from __future__ import annotations

import io
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import duckdb
import pyarrow.csv as pacsv

from insightflow.bi.served import (
    META_SCHEMA,
    PII_ROLE,
    PRIVATE_SCHEMA,
    READER_ROLE,
    SERVED_SCHEMAS,
    ServedTable,
    kpi_views,
    layout_of,
    served_models,
    served_tables,
)
from insightflow.errors import InsightFlowError, LakeError, ServingError
from insightflow.faults import checkpoint
from insightflow.lake import LakeCatalog, RunRecord, TableFiles, last_published, list_runs
from insightflow.lake.storage import connect_storage, is_remote
from insightflow.quoting import ident, literal

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

#: The advisory lock every sync of a serving database takes (per database): "insightflow-bi".
LOCK_KEY = 0x1F5_1B1
_BATCH_ROWS = 100_000


@dataclass
class SyncResult:
    """What one sync did."""

    run_id: str
    mode: str  # current, incremental or full
    rows_sent: int = 0
    rows_deleted: int = 0
    tables: dict[str, int] = field(default_factory=dict)  # rows sent per table
    seconds: float = 0.0

    def describe(self) -> str:
        if self.mode == "current":
            return f"serves run {self.run_id} already"
        return (f"serves run {self.run_id} ({self.mode} sync: {self.rows_sent:,} rows sent, "
                f"{self.rows_deleted:,} deleted, {self.seconds:.2f} s)")


@dataclass
class ServingStatus:
    """Which run the serving database holds, and whether the lake has published a newer one."""

    target: str
    served_run: str | None
    synced_at: datetime | None
    mode: str | None
    published_run: str | None

    @property
    def behind(self) -> bool:
        return self.published_run is not None and self.served_run != self.published_run


def redacted(url: str) -> str:
    """``url`` without its password, for messages."""
    return re.sub(r"(://[^/@:]+):[^/@]+@", r"\1:***@", url)


def conninfo(url: str) -> str:
    """A libpq connection URI from a libpq or SQLAlchemy URL (``postgresql+psycopg://…``)."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.split("+")[0] not in ("postgresql", "postgres"):
        raise ServingError(f"the BI url {redacted(url)!r} is not a PostgreSQL URL (postgresql://user@host:5432/db)")
    return f"postgresql://{rest}"


def connect(url: str, *, timeout: float = 10.0):
    """A connection to the serving database (its password from PGPASSWORD or ~/.pgpass)."""
    import psycopg

    try:
        return psycopg.connect(conninfo(url), connect_timeout=max(1, int(timeout)), autocommit=False,
                               application_name="insightflow")
    except psycopg.Error as error:
        raise _serving_error(url, error) from error


def sync(catalog: LakeCatalog, url: str, *, full: bool = False, lock_timeout: float = 60.0) -> SyncResult:
    """Make the serving database at ``url`` serve the lake's newest published run (one transaction)."""
    import psycopg

    started = time.perf_counter()
    try:
        with connect(url) as conn, conn.transaction(), conn.cursor() as cur:
            cur.execute(f"SET LOCAL lock_timeout = '{int(lock_timeout * 1000)}ms'")
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
            began = _now(cur)
            _ensure_meta(cur)
            served = _served(cur)
            runs = list_runs(catalog) if catalog.initialized() else []
            run = last_published(runs)
            if run is None:
                raise ServingError(f"the lake at {catalog.layout.root} has no published run to serve yet; "
                                   "run `insightflow run` first")
            files = _published_files(catalog, run)
            tables = served_tables({name: _arrow_schema(catalog, name) for name in files})
            layout = layout_of(tables)
            if not full and served and served["run_id"] == run.run_id and served["layout"] == layout:
                return SyncResult(run.run_id, "current", seconds=time.perf_counter() - started)
            previous = _previous_files(catalog, served, layout, {r.run_id for r in runs}) if not full else None
            result = SyncResult(run.run_id, "incremental" if previous is not None else "full")
            con = _reader(catalog)
            try:
                if previous is None:
                    _full(cur, con, tables, files, result)
                else:
                    _incremental(cur, con, tables, files, previous, result)
            finally:
                con.close()
            _ensure_roles(conn, cur)
            _grant(cur)
            result.seconds = time.perf_counter() - started
            _record(cur, run, layout, result, began)
            checkpoint("bi-commit")
        return result
    except psycopg.Error as error:
        raise _serving_error(url, error) from error


@dataclass
class Attempts:
    """What ``sync_retrying`` did: its result, or the reason it gave up; attempts and seconds."""

    result: SyncResult | None
    problem: str | None
    attempts: int
    seconds: float

    def describe(self) -> str:
        return self.result.describe() if self.result else f"failed: {self.problem}"


def sync_retrying(catalog: LakeCatalog, url: str, *, retries: int = 3, delay: float = 1.0) -> Attempts:
    """``sync``, retried with doubling delays while the database is unreachable; never raises (what
    publishes in the lake stays published: the reason is returned instead)."""
    started = time.perf_counter()
    for attempt in range(retries + 1):
        try:
            result = sync(catalog, url)
        except InsightFlowError as error:
            if getattr(error, "transient", False) and attempt < retries:
                log.info("BI sync attempt %d failed, retrying in %.1f s: %s", attempt + 1, delay, error)
                time.sleep(delay)
                delay *= 2
                continue
            problem = " ".join(str(error).split())
        except Exception as error:  # noqa: BLE001 - a sync never fails what published
            log.debug("BI sync failed", exc_info=True)
            problem = f"{type(error).__name__}: {' '.join(str(error).split())}"
        else:
            return Attempts(result, None, attempt + 1, time.perf_counter() - started)
        return Attempts(None, problem, attempt + 1, time.perf_counter() - started)
    raise AssertionError("unreachable")


def status(catalog: LakeCatalog, url: str) -> ServingStatus:
    """What the serving database at ``url`` serves, next to what the lake has published."""
    import psycopg

    published = last_published(list_runs(catalog)) if catalog.initialized() else None
    try:
        with connect(url) as conn, conn.cursor() as cur:
            cur.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{META_SCHEMA}.served",))
            served = _served(cur) if cur.fetchone()[0] else None
    except psycopg.Error as error:
        raise _serving_error(url, error) from error
    return ServingStatus(redacted(url), served and served["run_id"], served and served["synced_at"],
                         served and served["mode"], published.run_id if published else None)


# --- what is published ----------------------------------------------------------------------

def _published_files(catalog: LakeCatalog, run: RunRecord) -> dict[str, TableFiles]:
    files = {}
    for model in served_models():
        snapshot = run.snapshots.get(model.table)
        if snapshot is None:
            raise ServingError(f"the published run {run.run_id} has no {model.table} yet; "
                               "run the whole pipeline (`insightflow run`) before serving it")
        files[model.table] = catalog.resolve(model.table, snapshot)
    return files


def _arrow_schema(catalog: LakeCatalog, name: str) -> pa.Schema:
    return catalog.load(name).schema().as_arrow()


def _previous_files(catalog: LakeCatalog, served: dict | None, layout: dict,
                    runs: set[str]) -> dict[str, TableFiles] | None:
    """The files of the served run's snapshots, or None when only a full sync can follow it."""
    if not served or served["layout"] != layout or served["run_id"] not in runs:
        return None
    previous = {}
    for name in layout["tables"]:
        snapshot = served["snapshots"].get(name)
        if snapshot is None:
            return None
        try:
            previous[name] = catalog.resolve(name, int(snapshot))
        except LakeError:  # expired: the served rows cannot be told apart any more
            log.info("snapshot %s of %s expired: full sync", snapshot, name)
            return None
    return previous


def _reader(catalog: LakeCatalog):  # noqa: ANN202 - a DuckDB connection
    """A DuckDB connection reading the lake's Parquet files (the object store through its s3fs)."""
    con = duckdb.connect()
    if is_remote(catalog.storage.warehouse):
        connect_storage(con, catalog.storage)
    return con


def _select(files: list[str] | tuple[str, ...], table: ServedTable) -> str:
    """The served columns of ``files`` (or no rows, typed, when there are none)."""
    columns = ", ".join(map(ident, table.column_names))
    if not files:
        return f"SELECT {columns} FROM (SELECT {', '.join(f'NULL AS {ident(c)}' for c in table.column_names)}) WHERE false"
    return f"SELECT {columns} FROM read_parquet([{', '.join(literal(f) for f in files)}])"


# --- writing ----------------------------------------------------------------------------------

def _full(cur, con, tables: list[ServedTable], files: dict[str, TableFiles], result: SyncResult) -> None:
    schemas = (*reversed(SERVED_SCHEMAS), PRIVATE_SCHEMA)
    cur.execute(f"DROP SCHEMA IF EXISTS {', '.join(map(ident, schemas))} CASCADE")
    for schema in schemas:
        cur.execute(f"CREATE SCHEMA {ident(schema)}")
    for table in tables:
        for statement in table.ddl():
            cur.execute(statement)
        sent = _copy(cur, table.storage, con.sql(_select(files[table.name].files, table)))
        result.tables[table.name] = sent
        result.rows_sent += sent
        for statement in (*table.constraints(), *table.comments()):
            cur.execute(statement)
        checkpoint("bi-table")
    for name, select, comment in kpi_views():
        cur.execute(f"CREATE VIEW kpi.{ident(name)} AS {select}")
        cur.execute(f"COMMENT ON VIEW kpi.{ident(name)} IS {literal(comment)}")
    cur.execute(f"""CREATE VIEW kpi.served_run AS
        SELECT run_id, run_finished_at, mode, synced_at FROM {META_SCHEMA}.served""")
    cur.execute("COMMENT ON VIEW kpi.served_run IS 'The InsightFlow run these tables hold, and when it was synced.'")


def _incremental(cur, con, tables: list[ServedTable], files: dict[str, TableFiles],
                 previous: dict[str, TableFiles], result: SyncResult) -> None:
    for table in tables:
        new, old = files[table.name].files, previous[table.name].files
        added, removed = [f for f in new if f not in set(old)], [f for f in old if f not in set(new)]
        if not added and not removed:
            continue
        upserts, stale = _changes(con, _select(added, table), _select(removed, table), table.column_names,
                                  table.key)
        types = {name: kind.removesuffix(" NOT NULL") for name, kind in table.columns}
        cur.execute(f"CREATE TEMP TABLE _insightflow_keys ({', '.join(f'{ident(k)} {types[k]}' for k in table.key)}) "
                    "ON COMMIT DROP")
        gone = _copy(cur, "_insightflow_keys", stale)
        cur.execute("ANALYZE _insightflow_keys")  # so that the delete probes the key's index
        match = " AND ".join(f"t.{ident(k)} = k.{ident(k)}" for k in table.key)
        cur.execute(f"DELETE FROM {table.storage} AS t USING _insightflow_keys AS k WHERE {match}")
        cur.execute("DROP TABLE _insightflow_keys")
        sent = _copy(cur, table.storage, upserts)
        checkpoint("bi-table")
        result.tables[table.name] = sent
        result.rows_sent += sent
        result.rows_deleted += gone - sent


def _changes(con, added: str, removed: str, columns: list[str], key: tuple[str, ...]):  # noqa: ANN001, ANN202
    """(rows to insert, keys to delete first) as DuckDB relations: the rows of the ``added`` query
    whose key and values (a 64-bit hash of them) are not in the ``removed`` one, and their keys plus
    the keys only ``removed`` holds. Both queries are streamed, not held: only the changes are."""
    values, keys = ", ".join(map(ident, columns)), ", ".join(map(ident, key))
    match = " AND ".join(f"r.{ident(k)} = a.{ident(k)}" for k in key)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE upserts AS
        SELECT {', '.join(f'a.{ident(c)}' for c in columns)}
        FROM (SELECT *, hash({values}) AS _row_hash FROM ({added})) AS a
        ANTI JOIN (SELECT {keys}, hash({values}) AS _row_hash FROM ({removed})) AS r
            ON {match} AND r._row_hash = a._row_hash""")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE stale AS
        SELECT {keys} FROM upserts
        UNION ALL
        SELECT {', '.join(f'r.{ident(k)}' for k in key)} FROM (SELECT {keys} FROM ({removed})) AS r
        ANTI JOIN (SELECT {keys} FROM ({added})) AS a ON {match}""")
    return con.table("upserts"), con.table("stale")


def _copy(cur, target: str, rows) -> int:  # noqa: ANN001 - a DuckDB relation
    """COPY a DuckDB relation into ``target`` as CSV, in batches (Arrow writes it: NULL unquoted,
    strings quoted)."""
    reader = rows.to_arrow_reader(_BATCH_ROWS)
    columns = ", ".join(map(ident, reader.schema.names))
    options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
    sent = 0
    with cur.copy(f"COPY {target} ({columns}) FROM STDIN (FORMAT csv)") as copy:
        for batch in reader:
            if batch.num_rows:
                buffer = io.BytesIO()
                pacsv.write_csv(batch, buffer, options)
                copy.write(buffer.getbuffer())
                sent += batch.num_rows
    return sent


def _ensure_meta(cur) -> None:
    cur.execute(f"CREATE SCHEMA IF NOT EXISTS {META_SCHEMA}")
    cur.execute(f"""CREATE TABLE IF NOT EXISTS {META_SCHEMA}.served (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        run_id text NOT NULL, run_finished_at timestamptz, snapshots jsonb NOT NULL,
        layout jsonb NOT NULL, mode text NOT NULL, synced_at timestamptz NOT NULL)""")
    cur.execute(f"""CREATE TABLE IF NOT EXISTS {META_SCHEMA}.syncs (
        run_id text NOT NULL, mode text NOT NULL, rows_sent bigint NOT NULL, rows_deleted bigint NOT NULL,
        started_at timestamptz NOT NULL, finished_at timestamptz NOT NULL, seconds double precision NOT NULL)""")


def _served(cur) -> dict | None:
    cur.execute(f"SELECT run_id, snapshots, layout, mode, synced_at FROM {META_SCHEMA}.served")
    row = cur.fetchone()
    if row is None:
        return None
    return dict(zip(("run_id", "snapshots", "layout", "mode", "synced_at"), row, strict=True))


def _record(cur, run: RunRecord, layout: dict, result: SyncResult, began: datetime) -> None:
    from psycopg.types.json import Jsonb

    snapshots = {name: run.snapshots[name] for name in layout["tables"]}
    cur.execute(f"""INSERT INTO {META_SCHEMA}.served AS s
                    (singleton, run_id, run_finished_at, snapshots, layout, mode, synced_at)
                    VALUES (true, %s, %s, %s, %s, %s, now())
                    ON CONFLICT (singleton) DO UPDATE SET run_id = excluded.run_id,
                        run_finished_at = excluded.run_finished_at, snapshots = excluded.snapshots,
                        layout = excluded.layout, mode = excluded.mode, synced_at = excluded.synced_at""",
                (run.run_id, run.finished_at, Jsonb(snapshots), Jsonb(layout), result.mode))
    cur.execute(f"""INSERT INTO {META_SCHEMA}.syncs VALUES (%s, %s, %s, %s, %s, clock_timestamp(), %s)""",
                (run.run_id, result.mode, result.rows_sent, result.rows_deleted, began, result.seconds))


def _ensure_roles(conn, cur) -> None:
    """The group roles readers are granted: ``insightflow_reader``, and ``insightflow_pii`` (which
    also unmasks personal data). Roles belong to the server, not the database: made once."""
    import psycopg

    for role in (READER_ROLE, PII_ROLE):
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
        if cur.fetchone():
            continue
        try:
            with conn.transaction():  # a savepoint: another database's sync may have made it meanwhile
                cur.execute(f"CREATE ROLE {ident(role)} NOLOGIN")
        except psycopg.errors.DuplicateObject:
            pass
        except psycopg.errors.UniqueViolation:
            pass
        except psycopg.errors.InsufficientPrivilege:
            raise ServingError(f"the sync's database user may not create the role {role}; have an "
                               f"administrator run: CREATE ROLE {role} NOLOGIN") from None
    cur.execute(f"GRANT {ident(READER_ROLE)} TO {ident(PII_ROLE)}")


def _grant(cur) -> None:
    schemas = ", ".join(map(ident, SERVED_SCHEMAS))
    cur.execute(f"GRANT USAGE ON SCHEMA {schemas} TO {ident(READER_ROLE)}")
    cur.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {schemas} TO {ident(READER_ROLE)}")


def _now(cur) -> datetime:
    cur.execute("SELECT clock_timestamp()")
    return cur.fetchone()[0]


def _serving_error(url: str, error: Exception) -> ServingError:
    import psycopg

    first = (str(error).strip().splitlines() or [type(error).__name__])[0]
    told = ServingError(f"the serving database {redacted(url)}: {first}")
    told.transient = isinstance(error, psycopg.OperationalError)  # down, unreachable, lock timeout
    return told
