"""The Dagster definitions: asset graph, checks and metadata on the reference data; retries on a
transient error; one alert, and no retry, on a permanent one."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import dagster as dg
import pytest

from insightflow import Lakehouse
from insightflow.errors import InsightFlowError, QualityGateError, UsageError
from insightflow.faults import _REACHED
from insightflow.orchestration import build_definitions, lake_instance, run_job
from insightflow.settings import Settings
from tests.exports import ORDERS, write_export

# Lineage (docs/DATA.md): the dims read their raw table (order_dim also the customer and product
# dims), the fact reads the order and delivery dims, the summary mart reads the fact and dims.
EXPECTED_PARENTS = {
    "curated/customer_dim": {"raw/customers"},
    "curated/product_dim": {"raw/products"},
    "curated/order_dim": {"raw/orders", "curated/customer_dim", "curated/product_dim"},
    "curated/delivery_dim": {"raw/deliveries", "curated/order_dim"},
    "marts/fact_sales": {"curated/order_dim", "curated/delivery_dim"},
    "marts/order_summary": {"marts/fact_sales", "curated/delivery_dim", "curated/customer_dim"},
    "ops/runs": {"curated/customer_dim", "curated/product_dim", "curated/order_dim",
                 "curated/delivery_dim", "marts/fact_sales", "marts/order_summary"},
    "raw/customers": set(), "raw/products": set(), "raw/orders": set(), "raw/deliveries": set(),
}


def events(lake: Lakehouse, run_id: str, kind: str) -> list[dg.EventLogEntry]:
    """The events of one Dagster run of the lake's instance, of one type (e.g. STEP_FAILURE)."""
    logs = lake_instance(lake.layout).all_logs(run_id)
    return [e for e in logs if e.dagster_event and e.dagster_event.event_type_value == kind]


def dagster_run_id(lake: Lakehouse) -> str:
    runs = lake_instance(lake.layout).get_runs(limit=1)
    return runs[0].run_id


def test_asset_graph_follows_the_models(tmp_path: Path) -> None:
    defs = build_definitions(Settings.load(tmp_path / "lake"))
    graph = defs.resolve_asset_graph()
    parents = {key.to_user_string(): {p.to_user_string() for p in graph.get(key).parent_keys}
               for key in graph.get_all_asset_keys()}
    assert parents == EXPECTED_PARENTS
    job = defs.resolve_job_def("insightflow")
    assert {n.name for n in job.nodes} == {"ingest", "ops__runs"} | {
        k.replace("/", "__") for k in EXPECTED_PARENTS if k.startswith(("curated", "marts"))}
    dims = defs.resolve_job_def("insightflow_dims")
    assert {n.name for n in dims.nodes} == {
        "curated__customer_dim", "curated__product_dim", "curated__order_dim", "curated__delivery_dim", "ops__runs"}
    specs = {(s.asset_key.to_user_string(), s.name): s for s in map(graph.get_check_spec, graph.asset_check_keys)}
    gate = specs[("marts/fact_sales", "quality_gate")]
    assert gate.blocking and "row_conservation(curated.order_dim)" in gate.description
    assert "unique(order_id,product_id)" in gate.description
    warnings = specs[("marts/order_summary", "quality_warnings")]
    assert not warnings.blocking and "volume(max_change=0.5)" in warnings.description
    assert {asset for asset, _ in specs} == {k for k in EXPECTED_PARENTS if k.startswith(("curated", "marts"))}


@pytest.mark.reference
def test_job_materializes_the_reference_data(tmp_path: Path, reference_dir: Path) -> None:
    lake = Lakehouse(tmp_path / "lake")
    record = run_job(lake, reference_dir)
    assert record.status == "success"
    assert lake.kpis()["orders_placed"] == 65_752
    run_id = dagster_run_id(lake)
    materialized = {e.dagster_event.asset_key.to_user_string(): e.asset_materialization.metadata
                    for e in events(lake, run_id, "ASSET_MATERIALIZATION")}
    assert set(materialized) == set(EXPECTED_PARENTS)
    fact = materialized["marts/fact_sales"]
    assert fact["rows_out"].value == 159_763 and fact["rows_in"].value == 159_763
    assert fact["bytes_written"].value > 0 and fact["compression_ratio"].value > 1
    assert materialized["raw/orders"]["loaded_rows"].value == 159_763
    assert materialized["ops/runs"]["run_id"].value == record.run_id
    evaluations = {(ev.asset_key.to_user_string(), ev.check_name): ev for ev in
                   (e.dagster_event.event_specific_data for e in events(lake, run_id, "ASSET_CHECK_EVALUATION"))}
    gates = {asset for asset, name in evaluations if name == "quality_gate"}
    assert gates == {k for k in EXPECTED_PARENTS if k.startswith(("curated", "marts"))}
    failed = {key: ev for key, ev in evaluations.items() if not ev.passed}
    # docs/DATA.md: the reference data passes every check but the (warn) freshness one (it ends
    # in 2018)
    assert list(failed) == [("marts/fact_sales", "quality_warnings")]
    warning = failed[("marts/fact_sales", "quality_warnings")]
    assert warning.severity == dg.AssetCheckSeverity.WARN
    assert warning.metadata["failed_checks"].value == "freshness(shipping_date)"
    rules = {r["check"]: r for r in evaluations[("marts/fact_sales", "quality_gate")].metadata["checks"].value}
    assert rules["unique(order_id,product_id)"]["status"] == "pass" and len(rules) >= 8
    # the same figures are in ops.run_history and the run's record
    rows = dict(lake.sql(
        "SELECT step, rows_out FROM ops.run_history WHERE run_id = '" + record.run_id + "'")[1])
    assert rows["marts.fact_sales"] == 159_763 and rows["ingest"] == 246_285
    # the run is in the lake's Dagster instance:
    assert lake_instance(lake.layout).get_run_by_id(run_id).tags["insightflow/run_id"] == record.run_id


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict]]]:
    """A local HTTP server that records every JSON body posted to it."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()


def test_a_transient_error_is_retried_and_the_run_succeeds(
    tmp_path: Path, small_export: Path, monkeypatch: pytest.MonkeyPatch, webhook: tuple[str, list[dict]]
) -> None:
    url, received = webhook
    monkeypatch.setenv("INSIGHTFLOW_ALERT_WEBHOOK", url)
    monkeypatch.setenv("INSIGHTFLOW_RETRY_DELAY", "0.05")
    monkeypatch.setenv("INSIGHTFLOW_FAULT", "transient:build:curated.order_dim:2")
    _REACHED.clear()
    lake = Lakehouse(tmp_path / "lake")
    record = run_job(lake, small_export)
    assert record.status == "success"
    steps = {s["step"]: s for s in record.steps}
    assert steps["curated.order_dim"]["attempts"] == 3 and steps["curated.order_dim"]["status"] == "success"
    run_id = dagster_run_id(lake)
    retried = [e.step_key for e in events(lake, run_id, "STEP_UP_FOR_RETRY")]
    assert retried == ["curated__order_dim", "curated__order_dim"]
    assert events(lake, run_id, "STEP_FAILURE") == []
    assert received == []  # success: no alert unless asked


def test_a_permanent_error_fails_the_run_once_and_sends_one_alert(
    tmp_path: Path, small_export: Path, monkeypatch: pytest.MonkeyPatch, webhook: tuple[str, list[dict]]
) -> None:
    url, received = webhook
    lake = Lakehouse(tmp_path / "lake")
    first = run_job(lake, small_export)
    monkeypatch.setenv("INSIGHTFLOW_ALERT_WEBHOOK", url)
    monkeypatch.setenv("INSIGHTFLOW_RETRY_DELAY", "0.05")
    monkeypatch.setenv("INSIGHTFLOW_FAULT", "error:build:marts.fact_sales")
    changed = write_export(tmp_path / "changed", {"orders": ORDERS[:-1]})
    with pytest.raises(InsightFlowError, match="injected permanent fault at build:marts.fact_sales"):
        run_job(lake, changed)
    assert len(received) == 1
    alert = received[0]
    failed = lake.history()[-1]
    assert failed.status == "failed" and alert["run_id"] == failed.run_id
    assert alert["failed_step"] == "marts.fact_sales" and alert["status"] == "failed"
    assert "injected permanent fault" in alert["error"] and alert["run_id"] in alert["text"]
    run_id = dagster_run_id(lake)
    assert alert["orchestrator_run_id"] == run_id and alert["url"].endswith(f"/runs/{run_id}")
    assert events(lake, run_id, "STEP_UP_FOR_RETRY") == []  # not retried
    assert [e.step_key for e in events(lake, run_id, "STEP_FAILURE")] == ["marts__fact_sales"]
    assert lake.reader().snapshots == first.snapshots  # readers still see the first run


def test_a_blocking_check_stops_the_run_and_alerts(
    tmp_path: Path, small_export: Path, monkeypatch: pytest.MonkeyPatch, webhook: tuple[str, list[dict]]
) -> None:
    from insightflow.transform import models

    url, received = webhook
    monkeypatch.setenv("INSIGHTFLOW_ALERT_WEBHOOK", url)
    broken = tuple(
        m if m.table != "curated.order_dim" else models.Model(**{**m.__dict__, "checks": (
            {"check": "range", "column": "order_quantity", "max": 1},)})
        for m in models.load_models()
    )
    monkeypatch.setattr("insightflow.orchestration.assets.load_models", lambda: broken)
    lake = Lakehouse(tmp_path / "lake")
    with pytest.raises(QualityGateError, match=r"curated.order_dim: range\(order_quantity\) failed on 4 rows"):
        run_job(lake, small_export)
    assert len(received) == 1 and received[0]["failed_step"] == "curated.order_dim"
    run_id = dagster_run_id(lake)
    evaluations = [e.dagster_event.event_specific_data for e in events(lake, run_id, "ASSET_CHECK_EVALUATION")]
    failed = [ev for ev in evaluations if not ev.passed]
    assert [(ev.asset_key.to_user_string(), ev.check_name) for ev in failed] == [("curated/order_dim", "quality_gate")]
    assert failed[0].metadata["failed_checks"].value == "range(order_quantity)"
    assert failed[0].metadata["failing_rows"].value == 4
    started = {e.step_key for e in events(lake, run_id, "STEP_START")}
    assert "curated__order_dim" in started and "curated__customer_dim" in started
    assert not started & {"curated__delivery_dim", "marts__fact_sales", "ops__runs"}  # downstream never ran
    failed = lake.history()[-1]
    assert failed.status == "failed" and not lake.catalog.exists("marts.fact_sales")
    assert [c["check"] for c in failed.checks if c["status"] == "fail"] == ["range(order_quantity)"]


def test_stage_jobs_publish_what_they_build(tmp_path: Path, small_export: Path) -> None:
    lake = Lakehouse(tmp_path / "lake")
    full = run_job(lake, small_export)
    changed = write_export(tmp_path / "changed", {"orders": [[*ORDERS[0][:3], "3", *ORDERS[0][4:]], *ORDERS[1:]]})
    ingested = run_job(lake, changed, job="insightflow_ingest")
    assert [s["step"] for s in ingested.steps] == ["crawl", "ingest", "publish"]
    assert ingested.snapshots["curated.order_dim"] == full.snapshots["curated.order_dim"]
    dims = run_job(lake, job="insightflow_dims")
    assert [s["step"] for s in dims.steps] == [
        "curated.customer_dim", "curated.product_dim", "curated.order_dim", "curated.delivery_dim", "publish"]
    assert dims.snapshots["marts.fact_sales"] == full.snapshots["marts.fact_sales"]  # carried over
    assert dims.snapshots["curated.order_dim"] != full.snapshots["curated.order_dim"]  # the changed line
    assert dims.snapshots["curated.customer_dim"] == full.snapshots["curated.customer_dim"]  # unchanged
    assert lake.kpis() == lake.kpis(as_of=full.run_id)  # the marts wait for the facts job
    facts = run_job(lake, job="insightflow_facts")
    assert [s["step"] for s in facts.steps] == ["marts.fact_sales", "marts.order_summary", "publish"]
    assert lake.kpis()["products_ordered"] == sum(int(o[3]) for o in ORDERS) + 2
    clean = Lakehouse(tmp_path / "clean")
    clean.run(small_export)
    clean.run(changed)
    assert lake.kpis() == clean.kpis()
    with pytest.raises(UsageError, match="no job 'nope'"):
        run_job(lake, job="nope")


def test_schedule_is_off_by_default_and_its_cron_configurable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    schedule = build_definitions(Settings.load(tmp_path / "lake")).resolve_schedule_def("insightflow_daily")
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED and schedule.cron_schedule == "0 6 * * *"
    monkeypatch.setenv("INSIGHTFLOW_SCHEDULE", "30 2 * * 1-5")
    monkeypatch.setenv("INSIGHTFLOW_SCHEDULE_ENABLED", "true")
    schedule = build_definitions(Settings.load(tmp_path / "lake")).resolve_schedule_def("insightflow_daily")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING and schedule.cron_schedule == "30 2 * * 1-5"
    monkeypatch.setenv("INSIGHTFLOW_SCHEDULE", "every day at six")
    with pytest.raises(UsageError, match="not a valid cron expression"):
        build_definitions(Settings.load(tmp_path / "lake"))
