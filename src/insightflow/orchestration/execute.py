"""Run a job of the definitions in this process: what ``insightflow run`` does.

The run goes through Dagster exactly as a scheduled one (same assets, checks, retries) and is
stored in the lake's Dagster instance, so it shows in ``insightflow ui`` afterwards.
"""

from __future__ import annotations

from pathlib import Path

from insightflow.errors import InsightFlowError, LakeError, UsageError
from insightflow.lake import RunRecord
from insightflow.orchestration.definitions import JOBS, build_definitions
from insightflow.lake.lock import lake_lock
from insightflow.orchestration.instance import dagster_home, lake_instance
from insightflow.orchestration.resources import LocalRun, local_run
from insightflow.pipeline import Lakehouse
from insightflow.session import StartCallback, StepCallback
from insightflow.settings import Settings


def run_job(
    lakehouse: Lakehouse,
    source: str | Path | None = None,
    *,
    job: str = "insightflow",
    engine: str = "duckdb",
    engine_options: dict | None = None,
    on_step: StepCallback | None = None,
    on_start: StartCallback | None = None,
    debug: bool = False,
) -> RunRecord:
    """Execute ``job`` in-process on ``lakehouse``; returns the run's record or raises its error."""
    if job not in JOBS:
        raise UsageError(f"no job {job!r}; the jobs are {', '.join(JOBS)}")
    settings = Settings.load(lakehouse.layout.root)
    job_def = build_definitions(settings).resolve_job_def(job)
    config = {
        "lake": str(lakehouse.layout.root),
        "source": str(Path(source).absolute()) if source else "",
        "engine": engine,
        "lock_timeout": lakehouse.lock_timeout,
    }
    run_config = {
        "resources": {"lake": {"config": config}},
        "loggers": {"console": {"config": {"log_level": "DEBUG" if debug else "CRITICAL"}}},
    }
    # Two command-line runs on one lake take turns from here, not only once inside the job (the
    # lake's lock): started together on a new lake, both wrote Dagster's SQLite run storage at once
    # and one could fail on its lock ("database is locked") before the lake's lock was reached.
    with lake_lock(lakehouse.layout, lakehouse.lock_timeout, file=dagster_home(lakehouse.layout) / "cli.lock"), \
            local_run(LocalRun(on_step, on_start, dict(engine_options or {}))) as local:
        result = job_def.execute_in_process(
            run_config=run_config,
            instance=lake_instance(lakehouse.layout),
            raise_on_error=False,
            tags={"insightflow/trigger": "cli", "insightflow/engine": engine},
        )
    session = local.session
    if session is not None and session.record.status == "failed" and session.error is not None:
        raise session.error
    if session is None or not result.success:
        failures = [e.message for e in result.all_events if e.is_failure and e.message]
        raise InsightFlowError(f"run {result.run_id} failed: {failures[0] if failures else 'no step ran'}")
    if session.record.status != "success":
        raise LakeError(f"run {result.run_id} ended without publishing")
    return session.record
