"""Runs the orchestrator did not launch, reported to it as runless asset events.

``insightflow run``, the API's ``POST /runs``, ``Lakehouse.run`` and rollbacks call the library
directly, without Dagster. So that the asset graph of ``insightflow ui`` still shows what they
published, the sensor ``insightflow_lake_runs`` reads ``ops.runs`` and reports each such run as
Dagster's pattern for work done outside it has it: an ``AssetMaterialization`` per table the run
published (with its snapshot, rows and the run's id) and an ``AssetCheckEvaluation`` per check
group of each model it built — the same check groups the orchestrated assets report. A run that
failed before building anything is not reported (the graph keeps the state of the last run that
published); one stopped by a blocking check reports its checks.
"""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

from insightflow.lake import LakeCatalog, LakeLayout, RunRecord, last_published, list_runs
from insightflow.quality.checks import check_name
from insightflow.settings import Settings
from insightflow.transform.models import Model, load_models

GATE, WARNINGS = "quality_gate", "quality_warnings"  # the asset checks of a model
RUNS_TABLE = "ops.runs"


def asset_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(table.split("."))


def check_groups(model: Model) -> dict[str, list[str]]:
    """A model's checks in its two asset checks: GATE (``error``, blocking) and WARNINGS (``warn``).

    One Dagster check per rule would cost three events a run each (planned, output, evaluation),
    ~0.7 s for the pipeline's 40 rules; each rule's result is in the group's metadata instead.
    """
    severities = {}  # check name as the library reports it -> severity
    if model.conserves:
        severities[f"row_conservation({model.conserves})"] = "error"
    for spec in model.checks:
        severities[check_name(spec)] = spec.get("severity", "error")
    groups = {GATE: [n for n, s in severities.items() if s == "error"],
              WARNINGS: [n for n, s in severities.items() if s != "error"]}
    return {group: names for group, names in groups.items() if names}


def group_outcome(group: str, names: list[str], results: dict[str, dict]) -> tuple[bool, dict]:
    """Whether a check group passed and its metadata, from the rules' records (``check_record``)."""
    rules = [results.get(n) or {"check": n, "status": "not run: no earlier run to compare with"}
             for n in names]
    failed = [r for r in rules if r["status"] in ("fail", "warn")]
    return not failed, {
        "failed_checks": ", ".join(r["check"] for r in failed) or "none",
        "failing_rows": sum(r["failing_rows"] for r in failed),
        "checks": dg.MetadataValue.json(rules),
    }


def severity(group: str) -> dg.AssetCheckSeverity:
    return dg.AssetCheckSeverity.ERROR if group == GATE else dg.AssetCheckSeverity.WARN


def run_events(run: RunRecord, previous: RunRecord | None,
               models: Iterable[Model]) -> list[dg.AssetMaterialization | dg.AssetCheckEvaluation]:
    """The asset events that stand for one run done outside Dagster."""
    events: list[dg.AssetMaterialization | dg.AssetCheckEvaluation] = []
    steps = {s["step"]: s for s in run.steps}
    if run.status == "success":
        before = previous.snapshots if previous else {}
        published = [t for t, s in run.snapshots.items()
                     if s != before.get(t) and not t.startswith("quarantine.")]
        for table in sorted({*published, RUNS_TABLE}):
            step = steps.get(table, {})
            metadata = {"insightflow_run_id": run.run_id, "trigger": run.kind,
                        "snapshot_id": str(run.snapshots.get(table, "")), "rows_out": step.get("rows"),
                        "seconds": step.get("seconds")}
            events.append(dg.AssetMaterialization(
                asset_key=asset_key(table),
                description=f"published by {run.kind} {run.run_id} (outside the orchestrator)",
                metadata={k: v for k, v in metadata.items() if v is not None},
            ))
    results: dict[str, dict[str, dict]] = {}
    for check in run.checks:
        results.setdefault(check["table"], {})[check["check"]] = check
    for model in models:
        if model.table not in results:
            continue  # not built by this run
        for group, names in check_groups(model).items():
            passed, metadata = group_outcome(group, names, results[model.table])
            events.append(dg.AssetCheckEvaluation(
                asset_key=asset_key(model.table), check_name=group, passed=passed,
                severity=severity(group), metadata={**metadata, "insightflow_run_id": run.run_id},
            ))
    return events


def evaluate_lake_runs(catalog: LakeCatalog, cursor: str | None) -> tuple[list, str | None, str]:
    """One look at ``ops.runs``: (asset events, new cursor, reason when there is nothing to report).

    The cursor is the id of the newest run looked at. Without one (a new UI on an old lake) only
    the newest run is reported: the graph shows the current state, not the whole history again.
    """
    if not catalog.initialized() or not catalog.exists(RUNS_TABLE):
        return [], cursor, "no run recorded in the lake yet"
    runs = list_runs(catalog)
    ids = [r.run_id for r in runs]
    if cursor in ids:
        new = runs[ids.index(cursor) + 1:]
    else:
        new = runs[-1:]
    if not new:
        return [], cursor, "no new run since the last look"
    models = load_models()
    events = []
    for run in new:
        if run.orchestrator_run_id:
            continue  # Dagster launched it: its assets reported themselves
        events += run_events(run, last_published(runs[: runs.index(run)]), models)
    reason = "" if events else "the new runs were launched by the orchestrator or published nothing"
    return events, new[-1].run_id, reason


def lake_runs_sensor(settings: Settings) -> dg.SensorDefinition:
    layout = LakeLayout.resolve(settings.lake)

    @dg.sensor(
        name="insightflow_lake_runs",
        minimum_interval_seconds=settings.report_interval,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Reports the runs done outside the orchestrator (insightflow run, the API, "
                    "rollbacks) as asset materializations and check evaluations.",
    )
    def lake_runs(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        events, cursor, reason = evaluate_lake_runs(LakeCatalog(layout), context.cursor)
        if not events:
            return dg.SensorResult(skip_reason=dg.SkipReason(reason), cursor=cursor)
        return dg.SensorResult(asset_events=events, cursor=cursor)

    return lake_runs

