"""The Python API: one object per lake, one method per command of the CLI.

    from insightflow import Lakehouse
    lake = Lakehouse("./lakehouse")
    run = lake.run("exports/")          # crawl + ingest + models + checks + publish
    print(lake.kpis()["gross_sales"])
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from insightflow.crawl import CrawlReport, crawl
from insightflow.errors import InsightFlowError, LakeError, TableNotFound, UsageError
from insightflow.ingest import IngestResult, ingest
from insightflow.ingest.inbox import RemoteInbox
from insightflow.lake import (
    LakeCatalog,
    LakeLayout,
    RunRecord,
    last_published,
)
from insightflow.lake.storage import is_remote
from insightflow.run import PipelineRun, StartCallback, StepCallback
from insightflow.settings import Settings
from insightflow.transform.models import STAGES, stage_models

if TYPE_CHECKING:  # the query layer (pyarrow.compute, numpy) is imported when a read needs it
    from insightflow.bi import ServingStatus, SyncResult
    from insightflow.lake.checksums import Verification
    from insightflow.query import (
        KpiFilters,
        LakeReader,
        Limits,
        Principal,
        QueryResult,
        QueryService,
    )


@dataclass
class TableInfo:
    """A table as ``insightflow tables`` lists it."""

    name: str
    rows: int
    snapshot_id: int | None
    snapshots: int
    files: int
    bytes: int
    #: (name, DuckDB type) of each column at the current snapshot.
    columns: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Compression:
    """Source CSV bytes against the Parquet bytes they became."""

    csv_bytes: int
    parquet_bytes: int

    @property
    def ratio(self) -> float:
        return self.csv_bytes / self.parquet_bytes


class Lakehouse:
    """A lake folder and everything that can be done with it."""

    def __init__(self, lake: str | Path | None = None, *, lock_timeout: float = 60.0) -> None:
        self.layout = LakeLayout.resolve(lake)
        self.lock_timeout = lock_timeout
        self._catalog: LakeCatalog | None = None

    @property
    def catalog(self) -> LakeCatalog:
        if self._catalog is None:
            self._catalog = LakeCatalog(self.layout)
        return self._catalog

    # --- the pipeline -----------------------------------------------------------------------

    def encodings(self, encoding: str | None = None) -> dict[str, str]:
        """The encodings to read sources in: the lake's ``[encodings]``, and ``encoding`` for all."""
        from insightflow.crawl.crawler import normalized_encoding

        given = Settings.load(self.layout.root).encodings
        return {**given, "*": normalized_encoding(encoding)} if encoding else given

    def crawl(self, source: str | Path, *, encoding: str | None = None) -> CrawlReport:
        """Sniff and match every CSV of ``source`` (a folder, or an ``s3://`` prefix); changes nothing.
        ``encoding``: the files' encoding, else detected (or the lake's ``[encodings]``)."""
        if not is_remote(str(source)):
            return crawl(source, encodings=self.encodings(encoding))
        inbox = RemoteInbox(str(source), self.layout, self.catalog.storage.s3)
        try:
            return crawl(inbox.fetch(everything=True), encodings=self.encodings(encoding))
        finally:
            inbox.close()

    def ingest(self, source: str | Path, *, encoding: str | None = None) -> IngestResult:
        """Land and load the files of ``source`` into the raw tables (skipping known content)."""
        memory_limit = Settings.load(self.layout.root).memory_limit
        encodings = self.encodings(encoding)
        if not is_remote(str(source)):
            report = crawl(source, encodings=encodings)
            report.raise_for_rejected()
            with self.catalog.lock(self.lock_timeout):
                return ingest(self.catalog, report.accepted, memory_limit=memory_limit)
        inbox = RemoteInbox(str(source), self.layout, self.catalog.storage.s3)
        try:
            with self.catalog.lock(self.lock_timeout):
                folder = inbox.fetch()
                if not inbox.fetched:
                    return IngestResult([])
                report = crawl(folder, encodings=encodings)
                report.raise_for_rejected()
                result = ingest(self.catalog, report.accepted, memory_limit=memory_limit)
                inbox.remember()
                return result
        finally:
            inbox.close()

    def run(
        self,
        source: str | Path | None = None,
        *,
        stage: str = "all",
        engine: str = "duckdb",
        engine_options: dict | None = None,
        full_refresh: bool = False,
        encoding: str | None = None,
        on_step: StepCallback | None = None,
        on_start: StartCallback | None = None,
    ) -> RunRecord:
        """Crawl + ingest ``source`` (default: the lake's inbox), build every model, publish.

        Each model rebuilds only what the new loads change (``full_refresh``: everything, from
        every load; the tables are the same). ``stage`` runs one stage instead (``STAGES``:
        ``ingest``, ``dims`` or ``facts``);
        ``engine`` names the engine that runs the models (``insightflow.transform.engine``);
        ``engine_options`` go to its constructor; ``encoding`` is the files' (else detected, or
        the lake's ``[encodings]``); ``on_start(step)`` and ``on_step(step, seconds,
        rows)`` follow the steps. A failing run publishes nothing and is recorded with its error;
        the error is re-raised.

        ``insightflow run`` and the API's ``POST /runs`` are this call; the orchestrator's jobs
        (schedule, inbox sensor, UI) run the same steps (``insightflow.orchestration``).
        """
        if stage not in STAGES:
            raise UsageError(f"no stage {stage!r}; the stages are {', '.join(STAGES)}")
        if source is not None and not is_remote(str(source)):
            from insightflow.crawl.crawler import source_folder

            source_folder(source)  # a mistyped folder is refused before a run is recorded
        self._refuse_mixing_with_the_demo(source)
        pipeline_run = PipelineRun(self.catalog, source, engine=engine, engine_options=engine_options,
                             on_step=on_step, on_start=on_start, lock_timeout=self.lock_timeout,
                             full_refresh=full_refresh, encodings=self.encodings(encoding))
        with pipeline_run:
            if stage in ("all", "ingest"):
                pipeline_run.ingest()
            for model in stage_models(stage):
                pipeline_run.build(model)
            pipeline_run.publish()
        return pipeline_run.record

    def generate_demo(self, *, scale: float = 1.0, seed: int = 42) -> Path:
        """Write a synthetic export into the lake's inbox; returns the inbox."""
        from insightflow.generate import generate  # numpy-heavy; only the demo needs it

        self.layout.create()
        generate(self.layout.inbox, scale=scale, seed=seed)
        self._demo_marker.write_text(f'{{"scale": {scale}, "seed": {seed}}}\n', encoding="utf-8")
        return self.layout.inbox

    @property
    def _demo_marker(self) -> Path:
        """Present in a lake that holds the demo's synthetic data."""
        return self.layout.root / ".demo"

    def _refuse_mixing_with_the_demo(self, source: str | Path | None) -> None:
        if source is None or not self._demo_marker.exists():
            return
        if not is_remote(str(source)) and Path(source).resolve() == self.layout.inbox.resolve():
            return  # the demo's own inbox
        raise LakeError(f"the lake at {self.layout.root} holds the demo's synthetic data, which your exports would "
                        f"be mixed with: use another lake (--lake PATH) or start over with `insightflow reset "
                        f"--lake {self.layout.root}`")

    def reset(self) -> list[str]:
        """Delete everything the lake folder holds but its settings and API tokens (tables, landing
        copies, catalog, history, inbox, orchestrator home); returns what was deleted."""
        from insightflow.lake.maintenance import reset_folder

        removed = reset_folder(self.catalog, self.lock_timeout)
        self._catalog = None
        return removed

    def verify(self) -> Verification:
        """Read every data file of the published and current snapshots and every landing copy again;
        report each that is missing, unreadable or changed since it was written (its CRC-32)."""
        from insightflow.lake.checksums import Verification, verify_files, verify_landing

        self._require_published()
        published = self.published_run()
        tables: dict[str, tuple[str, ...]] = {}
        for name in self.catalog.table_names():
            files = set(self.catalog.resolve(name).files)
            snapshot = published.snapshots.get(name) if published else None
            if snapshot is not None:
                files |= set(self.catalog.resolve(name, snapshot).files)
            tables[name] = tuple(sorted(files))
        report = Verification()
        verify_files(self.catalog.storage, tables, report)
        verify_landing(self.catalog.storage, report)
        return report

    def repair(self, *, from_backup: bool = False) -> tuple[str, list[str]]:
        """Make the lake folder's catalog work again: a new one with every table registered from its
        newest metadata file (``from_backup``: the copy the last published run left); (what was
        done, the tables). The broken catalog is kept beside it."""
        from insightflow.lake.repair import repair

        if not self.catalog.local or self.catalog.storage.remote:
            raise UsageError("repair works on a lake folder's own catalog; a shared catalog is its server's to restore")
        with self.catalog.lock(self.lock_timeout):
            return repair(self.layout.catalog_db, Path(self.catalog.storage.warehouse), from_backup=from_backup)

    # --- serving BI tools ---------------------------------------------------------------------

    def bi_sync(self, *, full: bool = False) -> SyncResult:
        """Serve the published run in the BI database of the settings (``[bi] url``): only what
        changed since the run it serves (``full``: everything), in one transaction."""
        from insightflow.bi import sync

        url = self._bi_url()
        self._require_published()
        return sync(self.catalog, url, full=full, lock_timeout=self.lock_timeout)

    def bi_status(self) -> ServingStatus:
        """Which run the BI database serves, next to the lake's published run."""
        from insightflow.bi import status

        return status(self.catalog, self._bi_url())

    def _bi_url(self) -> str:
        url = Settings.load(self.layout.root).bi_url
        if not url:
            raise UsageError("no BI database is set: set INSIGHTFLOW_BI_URL (or [bi] url in "
                             f"{self.layout.root / 'insightflow.toml'}) to a postgresql:// URL")
        from insightflow.bi.sync import conninfo

        conninfo(url)  # refuses what is not a PostgreSQL URL
        return url

    # --- reading ----------------------------------------------------------------------------

    def reader(self, as_of: str | None = None) -> LakeReader:
        return self.queries.reader(as_of)

    def kpis(self, as_of: str | None = None, filters: KpiFilters | None = None, *,
             principal: Principal | None = None) -> dict:
        """The KPI summary of the published marts (see docs/DATA.md for their definitions)."""
        self._require_published()
        return self.queries.summary(filters, as_of, principal=principal)

    def sql(self, statement: str, as_of: str | None = None) -> tuple[list[str], list[tuple]]:
        """Run one read-only SQL statement over the lake's tables in the sandbox (all its rows).

        Bounded at 10 M rows and 5 minutes; ``query()`` takes other limits and reports a cut.
        """
        from insightflow.query import Limits, QueryError

        limits = Limits(max_rows=10_000_000, timeout_seconds=300.0, max_bytes=2**62)
        result = self.query(statement, as_of, limits=limits)
        if result.truncated:
            raise QueryError(f"the result has more than {limits.max_rows:,} rows; use Lakehouse.query()")
        return result.columns, result.rows

    def tables(self) -> list[TableInfo]:
        """Every table with its rows, current snapshot, history length and size on disk."""
        self.require_lake()
        infos = []
        for name in self.catalog.table_names():
            resolved = self.catalog.resolve(name)
            infos.append(
                TableInfo(
                    name=name,
                    rows=self.catalog.row_count(resolved),
                    snapshot_id=resolved.snapshot_id,
                    snapshots=len(self.catalog.snapshots(name)),
                    files=len(resolved.files),
                    bytes=self.catalog.file_bytes(resolved.files),
                    columns=resolved.columns,
                )
            )
        return infos

    def landing_bytes(self) -> int:
        """Size of the landed source CSVs (for the compression ratio of the raw tables)."""
        storage = self.catalog.storage
        return sum(storage.size(f) for f in storage.list(storage.landing, ".csv"))

    def raw_compression(self, tables: list[TableInfo] | None = None) -> Compression | None:
        """The landed CSVs' bytes against the raw tables' Parquet bytes (None before any load);
        ``tables``: what ``tables()`` just returned, if at hand."""
        tables = self.tables() if tables is None else tables
        parquet = sum(info.bytes for info in tables if info.name.startswith("raw."))
        return Compression(self.landing_bytes(), parquet) if parquet else None

    def history(self) -> list[RunRecord]:
        """Every recorded run, oldest first; memoized until the catalog commits, so cheap to poll
        (the dashboard asks on every rerun which run is published)."""
        return list(self.queries.state.runs()) if self.catalog.initialized() else []

    def published_run(self) -> RunRecord | None:
        """The run (or rollback) whose snapshots readers see; None before the first."""
        return last_published(self.history())

    def metrics(self) -> str:
        """The metrics of the lake's runs in the Prometheus text format."""
        from insightflow.monitoring import render_metrics

        if not self.catalog.initialized():
            raise InsightFlowError(f"the lake at {self.layout.root} has no run yet; run `insightflow run` first")
        return render_metrics(self.catalog)

    def quarantine(self, table: str | None = None) -> list[dict]:
        """Refused rows of the published run: table, source_file, line, reason, values."""
        self._require_published()
        names = [n for n in self.catalog.table_names() if n.startswith("quarantine.")]
        if table:
            short = table.split(".")[-1]
            names = [n for n in names if n.split(".")[-1] == short]
            if not names:
                raise TableNotFound(f"no table {table!r} with a quarantine (the tables with one: "
                                    f"{self._quarantined()})")
        rows = []
        reader = self.reader()
        for name in names:
            columns, data = reader.query(
                f"SELECT table_name AS \"table\", source_file, source_line AS line, reason, load_id, "
                f"record, invalid FROM {name} ORDER BY load_id, source_line"
            )
            rows += [dict(zip(columns, r, strict=True)) for r in data]
        return rows

    def _quarantined(self) -> str:
        return ", ".join(n.split(".")[-1] for n in self.catalog.table_names() if n.startswith("quarantine."))

    def table_name(self, name: str) -> str:
        """The lake's table ``name`` means: itself, or the one table of that name without its schema
        (``fact_sales``: ``marts.fact_sales``, before ``quarantine.fact_sales``); else
        ``TableNotFound`` naming the closest ones."""
        import difflib

        self.require_lake()
        names = self.catalog.table_names()
        if name in names:
            return name
        if "." not in name:
            same = [n for n in names if n.split(".")[1] == name]
            preferred = [n for n in same if n.split(".")[0] not in ("quarantine", "ops")] or same
            if len(preferred) == 1:
                return preferred[0]
            if preferred:
                raise UsageError(f"{name!r} could be {' or '.join(preferred)}: give its schema")
        close = difflib.get_close_matches(name, names + [n.split(".")[1] for n in names], n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(repr(c) for c in dict.fromkeys(close))}?" if close else ""
        raise TableNotFound(f"no table {name!r} in the lake{hint} (`insightflow tables` lists them)")

    def require_lake(self) -> None:
        """Refuse to read a lake that is not there (a read makes no lake: no folder, no catalog)."""
        if not self.catalog.initialized():
            raise LakeError(f"no lake at {self.layout.root}: `insightflow demo --lake {self.layout.root}` or "
                            f"`insightflow run SOURCE --lake {self.layout.root}` makes one")

    def _require_published(self) -> None:
        if not self.catalog.initialized() or not self.catalog.exists("ops.runs"):
            raise InsightFlowError(
                f"the lake at {self.layout.root} has no published run yet; "
                "run `insightflow run --source DIR` (or `insightflow demo`) first"
            )

    def quality(self, run_id: str | None = None) -> RunRecord:
        """The check results of one run (default: the newest run), as recorded in ``ops.runs``."""
        runs = [r for r in self.history() if not r.is_rollback]
        if not runs:
            raise InsightFlowError(f"the lake at {self.layout.root} has no run yet; run `insightflow run` first")
        if run_id is None:
            return runs[-1]
        for run in runs:
            if run.run_id == run_id:
                return run
        raise InsightFlowError(f"no run {run_id}; `insightflow history` lists the runs")

    # --- query layer --------------------------------------------------------------------------

    @cached_property
    def queries(self) -> QueryService:
        """The lake's query layer (sandbox, KPI catalogue, audit), with its caches."""
        from insightflow.query import QueryService

        return QueryService(self.catalog)

    def query(self, statement: str, as_of: str | None = None, *, principal: Principal | None = None,
              limits: Limits | None = None) -> QueryResult:
        """Run one user statement in the sandbox: columns, rows, Arrow data, ``truncated``."""
        self.require_lake()
        return self.queries.sql(statement, as_of, principal=principal, limits=limits)

    def kpi(self, name: str, filters: KpiFilters | None = None, as_of: str | None = None, *,
            top: int = 10, principal: Principal | None = None) -> QueryResult:
        """One KPI of the catalogue (``insightflow.query.CATALOGUE``) with its filters."""
        self._require_published()
        return self.queries.kpi(name, filters, as_of, top=top, principal=principal)

    def snapshots(self, table: str) -> list[dict]:
        """A table's snapshots, oldest first, marking the one readers see (``published``)."""
        table = self.table_name(table)
        published = self.reader().resolve(table).snapshot_id
        return [
            {
                "snapshot_id": s.snapshot_id,
                "committed_at": s.committed_at,
                "operation": s.operation,
                "run_id": s.summary.get("insightflow.run-id"),
                "rollback_to": s.summary.get("insightflow.rollback-to"),
                "published": s.snapshot_id == published,
            }
            for s in self.catalog.snapshots(table)
        ]

    def rollback(self, table: str, snapshot_id: int) -> RunRecord:
        """Make an old snapshot of ``table`` current again, as a new commit, and publish it.

        Readers follow the snapshots of the newest successful run, so the rollback is recorded in
        ``ops.runs`` as a record of kind ``rollback`` that republishes every table of the last
        run with ``table`` at the new snapshot. Undo it by rolling back to the previous snapshot.
        """
        from insightflow.lake.maintenance import rollback_table

        self._require_published()
        table = self.table_name(table)
        record = rollback_table(self.catalog, table, snapshot_id, lambda: self.reader().snapshots,
                                self.lock_timeout)
        settings = Settings.load(self.layout.root)
        if settings.bi_url:  # the rollback republishes: so does the BI database
            from insightflow.bi.sync import sync_retrying

            record.bi_sync = sync_retrying(self.catalog, settings.bi_url, retries=settings.retries,
                                           delay=settings.retry_delay).describe()
        return record

    def audit(self, last: int = 20) -> list[dict]:
        """The newest ``last`` entries of the audit log."""
        self.require_lake()
        return self.queries.audit.last(last)

