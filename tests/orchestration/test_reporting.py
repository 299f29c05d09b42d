"""Runs done outside the orchestrator (the CLI, the API, rollbacks) reach its asset graph as
runless asset events: a materialization per published table, the check groups of each model."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
from typer.testing import CliRunner

from insightflow import Lakehouse
from insightflow.cli import app
from insightflow.errors import QualityGateError, SourceError
from insightflow.orchestration import build_definitions, lake_instance, run_job
from insightflow.settings import Settings
from tests.exports import ORDERS, write_export


def tick(lake: Lakehouse, cursor: str | None) -> tuple[list, str | None]:
    """One evaluation of the sensor as the daemon makes it: (asset events, new cursor)."""
    sensor = build_definitions(Settings.load(lake.layout.root)).resolve_sensor_def("insightflow_lake_runs")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    with dg.build_sensor_context(instance=lake_instance(lake.layout), cursor=cursor) as context:
        data = sensor.evaluate_tick(context)
    return list(data.asset_events), data.cursor


def by_kind(events: list) -> tuple[dict, dict]:
    materialized = {e.asset_key.to_user_string(): e for e in events if isinstance(e, dg.AssetMaterialization)}
    checks = {(e.asset_key.to_user_string(), e.check_name): e for e in events
              if isinstance(e, dg.AssetCheckEvaluation)}
    return materialized, checks


def test_a_cli_run_is_reported_with_its_tables_and_checks(tmp_path: Path, small_export: Path) -> None:
    lake = Lakehouse(tmp_path / "lake")
    assert tick(lake, None)[0] == []  # nothing recorded yet
    result = CliRunner().invoke(app, ["run", "--source", str(small_export), "--lake", str(lake.layout.root)])
    assert result.exit_code == 0, result.output
    run = lake.history()[-1]
    assert run.orchestrator_run_id is None and run.kind == "run"

    events, cursor = tick(lake, None)
    materialized, checks = by_kind(events)
    assert set(materialized) == {
        "raw/customers", "raw/products", "raw/orders", "raw/deliveries", "curated/customer_dim",
        "curated/product_dim", "curated/order_dim", "curated/delivery_dim", "marts/fact_sales",
        "marts/order_summary", "ops/runs"}
    fact = materialized["marts/fact_sales"].metadata
    assert fact["insightflow_run_id"].value == run.run_id
    assert fact["snapshot_id"].value == str(run.snapshots["marts.fact_sales"])
    assert fact["rows_out"].value == len(ORDERS)
    gate = checks[("marts/fact_sales", "quality_gate")]
    assert gate.passed and gate.severity == dg.AssetCheckSeverity.ERROR
    assert {r["check"] for r in gate.metadata["checks"].value} >= {
        "row_conservation(curated.order_dim)", "unique(order_id,product_id)"}
    assert {name for _, name in checks} == {"quality_gate", "quality_warnings"}
    assert cursor == run.run_id
    assert tick(lake, cursor)[0] == []  # reported once

    # a later partial export: only the tables it changed are materialized again
    update = write_export(tmp_path / "update", {"orders": [[*ORDERS[0][:3], "3", *ORDERS[0][4:]]]})
    for name in ("CustomerDetails.csv", "ProductDetails.csv", "DeliveryDetails.csv"):
        (update / name).unlink()
    lake.run(update)
    materialized, _ = by_kind(tick(lake, cursor)[0])
    assert "raw/orders" in materialized and "raw/customers" not in materialized


def test_rollbacks_are_reported_and_orchestrated_runs_are_not(tmp_path: Path, small_export: Path) -> None:
    lake = Lakehouse(tmp_path / "lake")
    first = run_job(lake, small_export)  # launched by Dagster: its assets reported themselves
    assert first.orchestrator_run_id
    events, cursor = tick(lake, None)
    assert events == [] and cursor == first.run_id

    lake.run(write_export(tmp_path / "changed", {"orders": ORDERS[:-1]}))
    _, cursor = tick(lake, cursor)
    rollback = lake.rollback("marts.fact_sales", first.snapshots["marts.fact_sales"])
    materialized, checks = by_kind(tick(lake, cursor)[0])
    assert set(materialized) == {"marts/fact_sales", "ops/runs"}
    assert materialized["marts/fact_sales"].metadata["insightflow_run_id"].value == rollback.run_id
    assert materialized["marts/fact_sales"].metadata["trigger"].value == "rollback"
    assert checks == {}  # a rollback builds nothing, so it checks nothing


def test_a_run_stopped_by_a_check_reports_the_checks_but_no_table(
    tmp_path: Path, small_export: Path, monkeypatch
) -> None:
    from insightflow.transform import models

    lake = Lakehouse(tmp_path / "lake")
    lake.run(small_export)
    _, cursor = tick(lake, None)
    broken = tuple(
        m if m.table != "curated.order_dim" else models.Model(**{**m.__dict__, "checks": (
            {"check": "range", "column": "order_quantity", "max": 1},)})
        for m in models.load_models()
    )
    monkeypatch.setattr("insightflow.transform.models.load_models", lambda: broken)
    with pytest.raises(QualityGateError):
        lake.run(write_export(tmp_path / "changed", {"orders": ORDERS[:-1]}))
    monkeypatch.undo()
    materialized, checks = by_kind(tick(lake, cursor)[0])
    assert materialized == {}
    assert not checks[("curated/order_dim", "quality_gate")].passed
    assert ("curated/customer_dim", "quality_gate") not in checks  # unchanged: not built, not checked
    # a run that failed before it built anything (a source folder that is not there) reports nothing
    _, cursor = tick(lake, cursor)
    with pytest.raises(SourceError, match="no such folder"):
        lake.run(tmp_path / "no-such-folder")
    assert tick(lake, cursor)[0] == []
