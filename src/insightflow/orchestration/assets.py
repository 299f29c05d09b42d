"""The pipeline as Dagster definitions: one asset per table, checks, jobs, schedule and sensor.

- ``ingest`` (a multi-asset): crawls the source folder and loads ``raw.customers|products|orders|
  deliveries``;
- one asset per SQL model (``curated.*``, ``marts.*``), depending on the tables its SQL reads, with
  its checks as two asset checks: ``quality_gate`` (its ``error`` checks; blocking: a failure stops
  the assets downstream and the publish) and ``quality_warnings`` (its ``warn`` checks);
- ``ops/runs``: publishes the run — commits every built table and appends the run's record, the
  point from which readers see it.

Every step is retried on transient errors (``retries``, ``retry_delay`` doubling each time); any
other error fails the run at once.
"""

from __future__ import annotations

import warnings

import dagster as dg

from insightflow.contracts.sources import load_contracts
from insightflow.errors import UsageError
from insightflow.orchestration.reporting import (
    GATE,
    asset_key,
    check_groups,
    group_outcome,
    lake_runs_sensor,
    severity,
)
from insightflow.orchestration.resources import LakeResource
from insightflow.orchestration.sensors import inbox_sensor
from insightflow.quality import check_record
from insightflow.run import ModelOutcome, StepRecord
from insightflow.settings import Settings
from insightflow.transform.models import Model, load_models

# Blocking asset checks and a few metadata helpers are marked beta/preview by Dagster.
for _category in ("BetaWarning", "PreviewWarning", "SupersessionWarning"):
    if hasattr(dg, _category):
        warnings.filterwarnings("ignore", category=getattr(dg, _category))

RUNS_KEY = dg.AssetKey(["ops", "runs"])
#: The jobs: the whole pipeline, and one per stage (each ends by publishing what it built).
JOBS = {
    "insightflow": "crawl, ingest, build every model, check, publish",
    "insightflow_ingest": "crawl and ingest the source folder into the raw tables",
    "insightflow_dims": "build and publish the curated dimensions from the raw tables (job 1)",
    "insightflow_facts": "build and publish the marts from the published dimensions (job 2)",
}
_STAGE_GROUPS = {"insightflow_ingest": "raw", "insightflow_dims": "curated", "insightflow_facts": "marts"}


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    """The definitions for the lake of ``settings`` (default: the CLI's lake and settings)."""
    settings = settings or Settings.load()
    policy = dg.RetryPolicy(
        max_retries=settings.retries, delay=settings.retry_delay, backoff=dg.Backoff.EXPONENTIAL
    )
    models = load_models()
    assets = [_ingest_asset(policy), *(_model_asset(m, policy) for m in models), _publish_asset(models)]
    jobs = {
        name: dg.define_asset_job(
            name,
            selection=(dg.AssetSelection.all() if name not in _STAGE_GROUPS
                       else dg.AssetSelection.groups(_STAGE_GROUPS[name]) | dg.AssetSelection.assets(RUNS_KEY)),
            executor_def=dg.in_process_executor,  # the steps share the run's engine
            description=description,
        )
        for name, description in JOBS.items()
    }
    try:
        schedule = dg.ScheduleDefinition(
            name="insightflow_daily",
            job=jobs["insightflow"],
            cron_schedule=settings.schedule,
            default_status=(dg.DefaultScheduleStatus.RUNNING if settings.schedule_enabled
                            else dg.DefaultScheduleStatus.STOPPED),
            description="The whole pipeline on the lake's inbox, daily (off unless schedule_enabled).",
        )
    except dg.DagsterInvalidDefinitionError:
        raise UsageError(f"schedule {settings.schedule!r} is not a valid cron expression") from None
    return dg.Definitions(
        assets=assets,
        jobs=list(jobs.values()),
        schedules=[schedule],
        sensors=[inbox_sensor(settings, jobs["insightflow"]), lake_runs_sensor(settings)],
        resources={"lake": LakeResource(lake=str(settings.lake))},
    )


def _ingest_asset(policy: dg.RetryPolicy) -> dg.AssetsDefinition:
    contracts = sorted(load_contracts().values(), key=lambda c: c.table)
    specs = [
        dg.AssetSpec(asset_key(c.table), group_name="raw", kinds={"iceberg"},
                     description=f"Every load of the {c.source} export, typed, with lineage columns.")
        for c in contracts
    ]

    @dg.multi_asset(name="ingest", specs=specs, retry_policy=policy,
                    description="Crawl the source folder and append its new files to the raw tables.")
    def ingest(lake: LakeResource):
        pipeline_run = lake.pipeline_run
        loads = lake.step("ingest", pipeline_run.ingest)
        for contract in contracts:
            mine = [load for load in loads.loads if load.table == contract.table]
            yield dg.MaterializeResult(
                asset_key=asset_key(contract.table),
                metadata=_clean({
                    "files": ", ".join(load.file for load in mine) or "none in the source folder",
                    "loaded_rows": sum(load.rows for load in mine),
                    "invalid_rows": sum(load.invalid_rows for load in mine),
                    "skipped_files": sum(load.status == "skipped" for load in mine),
                    "sha256": ", ".join(load.sha256[:12] for load in mine),
                    **_step_metadata(pipeline_run.steps.get("ingest")),
                }),
            )

    return ingest


def _model_asset(model: Model, policy: dg.RetryPolicy) -> dg.AssetsDefinition:
    key = asset_key(model.table)
    groups = check_groups(model)
    check_specs = [
        dg.AssetCheckSpec(group, asset=key, blocking=group == GATE, description="; ".join(names))
        for group, names in groups.items()
    ]

    @dg.asset(key=key, deps=[asset_key(d) for d in model.depends_on], group_name=model.schema,
              check_specs=check_specs, retry_policy=policy, kinds={"sql", "iceberg"},
              description=f"{model.table}: one row per {model.grain}.")
    def build(lake: LakeResource) -> dg.MaterializeResult:
        outcome: ModelOutcome = lake.step(model.table, lambda: lake.pipeline_run.build(model))
        if outcome.blocking:  # Dagster fails the step after this result; say why first
            lake.note_failure(model.table, lake.pipeline_run.quality_gate())
        results = {c.name: check_record(c) for c in outcome.checks}
        check_results = []
        for group, names in groups.items():
            passed, metadata = group_outcome(group, names, results)
            check_results.append(dg.AssetCheckResult(
                asset_key=key, check_name=group, passed=passed, severity=severity(group), metadata=metadata,
            ))
        build_result = outcome.build
        return dg.MaterializeResult(
            metadata=_clean({
                "superseded_rows": build_result.superseded,
                "quarantine_reasons": dict(build_result.reasons) or None,
                "published": "at ops/runs, when every blocking check has passed",
                **_step_metadata(outcome.step),
            }),
            check_results=check_results,
        )

    return build


def _publish_asset(models: tuple[Model, ...]) -> dg.AssetsDefinition:
    @dg.asset(key=RUNS_KEY, deps=[asset_key(m.table) for m in models], group_name="ops", kinds={"iceberg"},
              description="Publish: commit every table built in the run and append the run's record.")
    def publish(lake: LakeResource) -> dg.MaterializeResult:
        record = lake.step("publish", lake.pipeline_run.publish)
        return dg.MaterializeResult(metadata=_clean({
            "run_id": record.run_id,
            "snapshots": {name: str(snapshot) for name, snapshot in record.snapshots.items()},
            "checks": len(record.checks),
            **_step_metadata(lake.pipeline_run.steps.get("publish")),
        }))

    return publish


def _step_metadata(step: StepRecord | None) -> dict:
    if step is None:
        return {}
    return {
        "seconds": round(step.seconds, 3),
        "rows_in": step.rows_in,
        "rows_out": step.rows,
        "quarantined_rows": step.quarantined,
        "bytes_written": step.bytes_written,
        "compression_ratio": step.compression_ratio,
        "attempts": step.attempts,
    }


def _clean(metadata: dict) -> dict:
    return {k: v for k, v in metadata.items() if v is not None}
