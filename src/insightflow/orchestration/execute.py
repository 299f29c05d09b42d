"""Run a job of the definitions in this process and wait for it (for tests and embedding).

The run goes through Dagster exactly as one from the schedule, the sensor or the UI (same assets,
checks, retries) and is stored in the lake's Dagster instance, so it shows in ``insightflow ui``.
``insightflow run`` does not come here: it calls the library (``Lakehouse.run``) directly.
"""

from __future__ import annotations

from pathlib import Path

from insightflow.errors import InsightFlowError, LakeError, UsageError
from insightflow.lake import RunRecord
from insightflow.lakehouse import Lakehouse
from insightflow.orchestration.assets import JOBS, build_definitions
from insightflow.orchestration.instance import lake_instance
from insightflow.orchestration.resources import RUNS_IN_PROCESS
from insightflow.settings import Settings


def run_job(
    lakehouse: Lakehouse,
    source: str | Path | None = None,
    *,
    job: str = "insightflow",
    engine: str = "duckdb",
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
    result = job_def.execute_in_process(
        run_config=run_config,
        instance=lake_instance(lakehouse.layout),
        raise_on_error=False,
        tags={"insightflow/trigger": "python", "insightflow/engine": engine},
    )
    pipeline_run = RUNS_IN_PROCESS.pop(result.run_id, None)
    if pipeline_run is not None and pipeline_run.record.status == "failed" and pipeline_run.error is not None:
        raise pipeline_run.error
    if pipeline_run is None or not result.success:
        failures = [e.message for e in result.all_events if e.is_failure and e.message]
        raise InsightFlowError(f"run {result.run_id} failed: {failures[0] if failures else 'no step ran'}")
    if pipeline_run.record.status != "success":
        raise LakeError(f"run {result.run_id} ended without publishing")
    return pipeline_run.record
