"""One pipeline run as a sequence of steps: the units both the plain call and the Dagster job run.

``Lakehouse.run()`` opens a ``PipelineRun`` and calls its steps in order; the orchestrated job
(``insightflow.orchestration``) opens one per Dagster run and calls the same steps, one asset each,
so that a run from the command line and a scheduled run do the same work. A run holds the
lake's lock from ``open()`` to ``close()``; nothing it builds is visible to readers until
``publish()`` appends the run's record to ``ops.runs`` — a run closed without publishing is
recorded as failed, with the step that failed and why.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

import pyarrow.parquet as pq

from insightflow.contracts import load_contracts
from insightflow.crawl import crawl
from insightflow.errors import InsightFlowError, LakeError, QualityGateError, TransientError
from insightflow.faults import checkpoint
from insightflow.ingest import IngestResult, ingest
from insightflow.ingest.inbox import RemoteInbox
from insightflow.lake import (
    LakeCatalog,
    RunRecord,
    last_built,
    last_published,
    list_runs,
    record_run,
)
from insightflow.lake.runs import record_history
from insightflow.lake.storage import is_remote
from insightflow.quality import CheckResult, check_record
from insightflow.settings import Settings
from insightflow.transform.engine import BuildResult, Engine, create_engine
from insightflow.transform.inputs import RunInputs
from insightflow.transform.models import Model
from insightflow.transform.runner import build_model, check_model, publish

log = logging.getLogger(__name__)

StepCallback = Callable[[str, float, int], None]
StartCallback = Callable[[str], None]


@dataclass
class StepRecord:
    """What one step did: its time, rows in and out, bytes written, attempts."""

    step: str
    seconds: float = 0.0
    rows: int = 0
    rows_in: int | None = None
    quarantined: int = 0
    bytes_in: int = 0
    bytes_written: int = 0
    attempts: int = 0
    status: str = "running"

    @property
    def compression_ratio(self) -> float | None:
        """Bytes before writing over bytes written: CSV over Parquet for ingest, Parquet's
        uncompressed over compressed size for a model."""
        return round(self.bytes_in / self.bytes_written, 2) if self.bytes_in and self.bytes_written else None

    def as_dict(self) -> dict:
        return {
            "step": self.step,
            "seconds": round(self.seconds, 4),
            "rows": self.rows,
            "rows_in": self.rows_in,
            "quarantined": self.quarantined,
            "bytes_in": self.bytes_in,
            "bytes_written": self.bytes_written,
            "compression_ratio": self.compression_ratio,
            "attempts": self.attempts,
            "status": self.status,
        }


@dataclass
class ModelOutcome:
    """A model built into staging and its checks (not yet published)."""

    model: Model
    build: BuildResult
    checks: list[CheckResult] = field(default_factory=list)
    step: StepRecord | None = None

    @property
    def blocking(self) -> list[CheckResult]:
        return [c for c in self.checks if c.blocking]


class PipelineRun:
    """The state of one run: lock, staging folder, engine, steps done, the record to write."""

    def __init__(
        self,
        catalog: LakeCatalog,
        source: str | Path | None = None,
        *,
        engine: str = "duckdb",
        engine_options: dict | None = None,
        on_step: StepCallback | None = None,
        on_start: StartCallback | None = None,
        orchestrator_run_id: str | None = None,
        lock_timeout: float = 60.0,
        full_refresh: bool = False,
        encodings: dict[str, str] | None = None,
    ) -> None:
        self.catalog = catalog
        self.full_refresh = full_refresh
        # per source (or "*"): the encoding to read its files in; else the lake's settings, else detected
        self.encodings = encodings if encodings is not None else Settings.load(catalog.layout.root).encodings
        self.layout = catalog.layout
        self.lock_timeout = lock_timeout
        # a folder, or an s3:// prefix (an inbox on the object store: `insightflow.ingest.inbox`)
        self.source: Path | str = (str(source) if is_remote(str(source)) else Path(source)) if source \
            else self.layout.inbox
        self.engine_name = engine
        self.engine_options = engine_options or {}
        self.on_step = on_step
        self.on_start = on_start
        self.orchestrator_run_id = orchestrator_run_id
        started = datetime.now(UTC)
        suffix = (orchestrator_run_id or uuid.uuid4().hex)[:6]
        self.run_id = f"{started:%Y%m%dT%H%M%S}-{suffix}"
        self.record = RunRecord(self.run_id, "running", engine, str(self.source), started, started,
                                orchestrator_run_id=orchestrator_run_id)
        self.staging = f"{catalog.storage.staging}/{self.run_id}"
        self.steps: dict[str, StepRecord] = {}
        self.outcomes: dict[str, ModelOutcome] = {}
        self.ingested: IngestResult | None = None
        self.error: InsightFlowError | None = None
        self.failed_step: str | None = None
        self.published = False
        self._engine: Engine | None = None
        self._inputs: RunInputs | None = None
        self._stack = ExitStack()
        self._locked = False
        self._history: tuple[RunRecord | None, dict[str, int]] | None = None

    # --- life cycle ---------------------------------------------------------------------------

    def open(self, lock_timeout: float | None = None) -> Self:
        """Take the lake's lock and clean what a crashed run left behind."""
        timeout = self.lock_timeout if lock_timeout is None else lock_timeout
        self.catalog.check()  # a lost catalog is refused before anything is written or recorded
        self._stack.enter_context(self.catalog.lock(timeout))
        self._locked = True
        # The run starts when it holds the lock: runs are ordered by their start (``list_runs``),
        # and a run that waited for another must come after it, as its publish does.
        self.record.started_at = self.record.finished_at = datetime.now(UTC)
        self.catalog.clean_staging()
        # PyIceberg takes ~1 s to import: it loads while the run crawls, lands and parses.
        self.catalog.open_in_background()
        return self

    @property
    def _previous(self) -> RunRecord | None:
        """The published run (its snapshots and state are what this run builds on)."""
        return self._published_history()[0]

    @property
    def _previous_rows(self) -> dict[str, int]:
        """Rows per table of the last run that built them (for the volume checks)."""
        return self._published_history()[1]

    def _published_history(self) -> tuple[RunRecord | None, dict[str, int]]:
        if self._history is None:
            runs = list_runs(self.catalog) if self.catalog.initialized() else []
            built = last_built(runs)
            self._history = (last_published(runs), {s["step"]: s["rows"] for s in built.steps} if built else {})
        return self._history

    def close(self, error: BaseException | None = None) -> RunRecord:
        """Record the run (failed unless it published), alert, release the lock."""
        try:
            if error is not None and (self.error is None or self.error is not error):
                self.fail(self.running_step() or self.failed_step or "run", error)
            if not self.published:
                if self.error is None and self.record.status == "running":
                    self.error = InsightFlowError("the run stopped before it published anything")
                self._finish("failed")
            else:
                self._serve()
            if self.record.status != "running":
                self._after_record()
        finally:
            if self._engine is not None:
                self._engine.close()
                self._engine = None
            self.catalog.storage.delete_tree(self.staging)
            self._stack.close()
        return self.record

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(self, kind, error, traceback) -> None:
        self.close(error if isinstance(error, Exception) else None)
        if isinstance(error, Exception) and self.error is not None and self.error is not error:
            raise self.error from error  # OSError etc., told as the lake error it means

    # --- steps --------------------------------------------------------------------------------

    def step(self, name: str) -> StepRecord:
        """Start (or retry) the step ``name``."""
        record = self.steps.setdefault(name, StepRecord(name))
        record.attempts += 1
        record.status = "running"
        if self.on_start:
            self.on_start(name)
        return record

    def running_step(self) -> str | None:
        """The step started last and not finished (or waiting for a retry), if any."""
        running = [s.step for s in self.steps.values() if s.status in ("running", "retrying")]
        return running[-1] if running else None

    def fail(self, step: str, error: BaseException) -> InsightFlowError:
        """Note that ``step`` failed; returns the error as the user is told it."""
        if isinstance(error, InsightFlowError):
            told = error
        elif isinstance(error, OSError):  # disk full, permissions: nothing more is published
            told = LakeError(f"writing to the lake at {self.layout.root} failed: {error.strerror or error}")
        else:
            told = InsightFlowError(f"{type(error).__name__}: {error}")
        if told is not error:
            told.__cause__ = error
        if step in self.steps:
            self.steps[step].status = "retrying" if isinstance(told, TransientError) else "failed"
        first = self.error is None or isinstance(self.error, TransientError)
        if first:
            self.failed_step, self.error = step, told
        elif isinstance(told, QualityGateError) and isinstance(self.error, QualityGateError):
            self.error = told  # the gate's message lists every blocking check so far
        return told

    def _done(self, record: StepRecord, seconds: float) -> None:
        record.seconds, record.status = seconds, "success"
        if self.failed_step == record.step and isinstance(self.error, TransientError):
            self.failed_step, self.error = None, None  # the retry succeeded
        if self.on_step:
            self.on_step(record.step, seconds, record.rows)

    def ingest(self) -> IngestResult:
        """Crawl the source folder and load its new files into the raw tables."""
        if isinstance(self.source, str):  # an inbox on the object store
            inbox = RemoteInbox(self.source, self.layout, self.catalog.storage.s3)
            try:
                folder = inbox.fetch()
                loads = self._ingest(folder) if inbox.fetched else self._nothing_new()
                inbox.remember()
                return loads
            finally:
                inbox.close()
        return self._ingest(self.source)

    def _nothing_new(self) -> IngestResult:
        for name in ("crawl", "ingest"):
            self._done(self.step(name), 0.0)
        self.ingested = IngestResult([])
        return self.ingested

    def _ingest(self, folder: Path) -> IngestResult:
        record = self.step("crawl")
        clock = time.perf_counter()
        report = crawl(folder, count_records=False, encodings=self.encodings)  # counted when landed
        report.raise_for_rejected()
        sizes = {f.path.name: f.path.stat().st_size for f in report.accepted}
        record.bytes_in = sum(sizes.values())
        self._done(record, time.perf_counter() - clock)
        # The engine first: one that cannot start (no PySpark, no Java) must not leave loads behind.
        self.engine()
        record = self.step("ingest")
        clock = time.perf_counter()
        checkpoint("ingest")
        self.ingested = loads = ingest(self.catalog, report.accepted, memory_limit=self._memory_limit())
        crawled = self.steps["crawl"]
        crawled.rows = crawled.rows_in = sum(load.records for load in loads.loads)
        record.rows = sum(load.rows for load in loads.loaded)
        record.rows_in = record.rows  # every record parsed lands in raw (one with invalid values too)
        record.bytes_in = sum(sizes.get(load.file, 0) for load in loads.loaded)
        record.bytes_written = self._added_bytes(loads)
        self._done(record, time.perf_counter() - clock)
        return loads

    def build(self, model: Model) -> ModelOutcome:
        """Build one model into staging — what its inputs changed — and run its checks (publishes
        nothing)."""
        record = self.step(model.table)
        clock = time.perf_counter()
        engine, inputs = self.engine(), self.inputs()
        checked = [c["to"] for c in model.checks if c["check"] == "relationships"]  # read by checks
        for name in (*model.depends_on, *checked):
            inputs.register(name)
        built = build_model(engine, model, self.staging, state=inputs.state_of(model),
                            changes=inputs.changes_of(model), full_refresh=self.full_refresh)
        inputs.built(model, built)
        build = built.result
        checks = check_model(engine, model, build, self._previous_rows.get(model.table))
        record.rows, record.rows_in, record.quarantined = build.rows, build.evaluated, build.quarantined
        files = [*(build.published_files or ()), *(build.quarantine_files or ())]
        record.bytes_written = self.catalog.file_bytes(files)
        record.bytes_in = sum(_uncompressed(self.catalog.parquet_metadata(f)) for f in files)
        outcome = self.outcomes[model.table] = ModelOutcome(model, build, checks, record)
        self._done(record, time.perf_counter() - clock)
        return outcome

    def publish(self) -> RunRecord:
        """Commit every built table and append the run's record: readers see the run from now."""
        blocking = [o for o in self.outcomes.values() if o.blocking]
        if blocking:
            for outcome in blocking:
                if outcome.step:
                    outcome.step.status = "failed"
            self.failed_step = blocking[0].model.table
            raise self.quality_gate()
        record = self.step("publish")
        clock = time.perf_counter()
        builds = [o.build for o in self.outcomes.values()]
        snapshots = publish(self.catalog, builds, self.run_id)
        carried = self._previous.snapshots if self._previous else {}
        self.record.snapshots = {**carried, **self._raw_snapshots(), **snapshots}
        self.record.state = self.inputs().state(self.record.snapshots)
        record.rows = sum(b.rows for b in builds)
        self._done(record, time.perf_counter() - clock)
        self._finish("success")
        self.published = True
        return self.record

    # --- helpers ------------------------------------------------------------------------------

    def engine(self) -> Engine:
        """The run's engine, bounded by the lake's memory setting and spilling into its ``tmp/``."""
        if self._engine is None:
            bounds = {"memory_limit": self._memory_limit(), "temp_directory": str(self.layout.tmp),
                      "storage": self.catalog.storage}
            self._engine = create_engine(self.engine_name, **{**bounds, **self.engine_options})
        return self._engine

    def _memory_limit(self) -> str:
        return Settings.load(self.layout.root).memory_limit

    def inputs(self) -> RunInputs:
        """What the run's models read (registered in the engine as they need it)."""
        if self._inputs is None:
            self._inputs = RunInputs(self.catalog, self.engine, self._previous, full_refresh=self.full_refresh)
        return self._inputs

    def quality_gate(self) -> QualityGateError:
        """The error of a run stopped by ``error`` checks (every check result attached)."""
        checks = [c for o in self.outcomes.values() for c in o.checks]
        blocking = [c for c in checks if c.blocking]
        summary = " | ".join(c.describe() for c in blocking)
        error = QualityGateError(f"{len(blocking)} blocking checks failed, nothing published: {summary}")
        error.checks = checks
        return error

    def _raw_snapshots(self) -> dict[str, int]:
        """The snapshot of each raw table the run read: published with the run's record."""
        snapshots = {}
        for contract in load_contracts().values():
            snapshot = self.catalog.current_snapshot_id(contract.table)
            if snapshot is not None:
                snapshots[contract.table] = snapshot
        return snapshots

    def _added_bytes(self, loads: IngestResult) -> int:
        total, seen = 0, set()
        for load in loads.loaded:  # one snapshot per table (its loads were committed together)
            if load.snapshot_id is None or (load.table, load.snapshot_id) in seen:
                continue
            seen.add((load.table, load.snapshot_id))
            snapshot = self.catalog.load(load.table).snapshot_by_id(load.snapshot_id)
            if snapshot and snapshot.summary:
                total += int(snapshot.summary.get("added-files-size", 0) or 0)
        return total

    def _finish(self, status: str) -> None:
        self.record.status = status
        self.record.steps = [s.as_dict() for s in self.steps.values()]
        self.record.finished_at = datetime.now(UTC)
        if status == "failed":
            assert self.error is not None
            self.record.error = str(self.error)
            checks = getattr(self.error, "checks", None) if isinstance(self.error, QualityGateError) else None
            self.record.checks = [check_record(c) for c in checks or [c for o in self.outcomes.values() for c in o.checks]]
            for step in self.steps.values():
                if step.status in ("running", "retrying"):
                    step.status = "failed"
            self.record.steps = [s.as_dict() for s in self.steps.values()]
            if self._locked:  # without the lock (the lake was busy) the lake is not ours to write
                self._write_record(required=False)
        else:
            self.record.checks = [check_record(c) for o in self.outcomes.values() for c in o.checks]
            self._write_record(required=True)
            self.catalog.backup()

    def _write_record(self, *, required: bool) -> None:
        """Append to ``ops.runs`` (for a successful run: the publish point) and ``ops.run_history``."""
        checkpoint("record-run")
        catalog = self.catalog
        try:
            record_run(catalog, self.record, self.staging)
        except (InsightFlowError, OSError):
            if required:
                raise
            return  # a failed run is recorded when the lake lets us; its own error is what matters
        try:
            record_history(catalog, self.record, self.orchestrator_run_id, self.staging)
        except (InsightFlowError, OSError) as problem:  # monitoring; the run itself is recorded
            log.warning("could not append run %s to ops.run_history: %s", self.run_id, problem)

    def _serve(self) -> None:
        """Serve the published run in the BI database, if one is set (``[bi] url``): retried with
        backoff while the database is unreachable; a sync that fails leaves the run published and
        marks it "published, BI sync failed" (``insightflow bi sync`` catches up later)."""
        settings = Settings.load(self.layout.root)
        if not settings.bi_url:
            return
        from insightflow.bi.sync import sync_retrying

        record = self.step("bi.sync")
        outcome = sync_retrying(self.catalog, settings.bi_url, retries=settings.retries, delay=settings.retry_delay)
        self.record.bi_sync, record.attempts = outcome.describe(), outcome.attempts
        if outcome.result:
            record.rows = outcome.result.rows_sent
            self._done(record, outcome.seconds)
        else:
            record.seconds, record.status = outcome.seconds, "failed"
            log.info("run %s published, BI sync failed: %s", self.run_id, outcome.problem)
        try:  # the run's record is in ops.runs already: the step goes to the monitoring log
            record_history(self.catalog, replace(self.record, steps=[record.as_dict()]),
                           self.orchestrator_run_id, self.staging)
        except (InsightFlowError, OSError) as problem:
            log.warning("could not append the BI sync of run %s to ops.run_history: %s", self.run_id, problem)

    def _after_record(self) -> None:
        """Refresh the metrics file and send the alerts the settings ask for (never raises)."""
        from insightflow.monitoring import after_run

        after_run(self.record, self.catalog, self.failed_step)


def _uncompressed(metadata: pq.FileMetaData) -> int:
    return sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
