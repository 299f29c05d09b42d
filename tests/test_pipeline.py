"""The whole pipeline on a small export: figures computed by hand, loads, idempotence."""

from __future__ import annotations

from pathlib import Path

import pytest

from insightflow import Lakehouse
from insightflow.errors import InsightFlowError, QualityGateError
from tests.exports import ORDERS, write_export


def test_run_publishes_the_star_schema_with_hand_computed_kpis(lake: Lakehouse, small_export: Path) -> None:
    record = lake.run(small_export)
    assert record.status == "success"
    kpis = lake.kpis()
    gross = sum(float(o[9]) * int(o[3]) for o in ORDERS)
    discount = sum(float(o[4]) for o in ORDERS)
    profit = sum((float(o[9]) * int(o[3]) - float(o[4])) * float(o[6]) for o in ORDERS)
    assert kpis["products_ordered"] == sum(int(o[3]) for o in ORDERS)
    assert kpis["gross_sales"] == round(gross, 2)
    assert kpis["discount"] == round(discount, 2)
    assert kpis["net_sales"] == round(gross - discount, 2)
    assert kpis["net_profit"] == round(profit, 2)
    assert kpis["orders_placed"] == 5
    assert kpis["late_deliveries"] == 2
    assert kpis["avg_shipping_days"] == round((6 + 4 + 2 + 0 + 3) / 5, 2)
    assert kpis["on_time_rate_by_mode"] == {
        "First Class": 0.0, "Same Day": 1.0, "Second Class": 0.0, "Standard Class": 1.0,
    }
    assert lake.quarantine() == []


def test_rows_carry_their_lineage(lake: Lakehouse, small_export: Path) -> None:
    lake.run(small_export)
    _, rows = lake.sql(
        "SELECT _source_file, _source_line, _load_id FROM marts.fact_sales WHERE order_id = 5"
    )
    assert rows[0][0] == "OrderDetails.csv"
    assert rows[0][1] == 5  # header is line 1; order 5 is the 4th record
    assert rows[0][2]


def test_ingest_is_idempotent_and_lands_files_by_hash(lake: Lakehouse, small_export: Path) -> None:
    first = lake.ingest(small_export)
    assert [load.status for load in first.loads] == ["loaded"] * 4
    again = lake.ingest(small_export)
    assert [load.status for load in again.loads] == ["skipped"] * 4
    assert {t.name: t.rows for t in lake.tables()}["raw.orders"] == len(ORDERS)
    landed = sorted(Path(p).name for p in lake.catalog.storage.list(lake.catalog.storage.landing, ".csv"))
    assert landed == sorted(f"{load.sha256}.csv" for load in first.loads)


def test_a_later_partial_export_updates_rows_and_the_newest_load_wins(
    lake: Lakehouse, small_export: Path, tmp_path: Path
) -> None:
    lake.run(small_export)
    first_run = lake.history()[-1].run_id
    update = tmp_path / "update"
    update.mkdir()
    changed = [[*ORDERS[0][:3], "3", *ORDERS[0][4:]]]  # order 1 now has quantity 3
    write_export(update, {"orders": changed})
    for name in ("CustomerDetails.csv", "ProductDetails.csv", "DeliveryDetails.csv"):
        (update / name).unlink()
    lake.run(update)
    _, rows = lake.sql("SELECT order_quantity FROM curated.order_dim WHERE order_id = 1")
    assert rows == [(3,)]
    assert {t.name: t.rows for t in lake.tables()}["raw.orders"] == len(ORDERS) + 1
    assert {t.name: t.rows for t in lake.tables()}["curated.order_dim"] == len(ORDERS)
    # the first run's figures are still there to be read
    assert lake.kpis(as_of=first_run)["products_ordered"] == sum(int(o[3]) for o in ORDERS)
    assert lake.kpis()["products_ordered"] == sum(int(o[3]) for o in ORDERS) + 2


def test_bad_rows_are_quarantined_with_reason_and_never_lost(lake: Lakehouse, tmp_path: Path) -> None:
    orders = [*ORDERS, ["1", "8", "1360", "-2", "0", "0", "0.1", "CASH", "CLOSED", "10"],
              ["999", "9", "1360", "1", "0", "0", "0.1", "CASH", "CLOSED", "10"],
              ["1", "10", "1360", "abc", "0", "0", "0.1", "CASH", "CLOSED", "10"]]
    export = write_export(tmp_path / "export", {"orders": orders})
    lake.run(export)
    refused = {(r["table"], r["line"], r["reason"]) for r in lake.quarantine()}
    assert ("curated.order_dim", 8, "quantity_below_one") in refused
    assert ("curated.order_dim", 9, "orphan_customer") in refused
    assert ("curated.order_dim", 10, "invalid_value") in refused
    invalid = next(r for r in lake.quarantine("order_dim") if r["line"] == 10)
    assert '"order_quantity":"abc"' in invalid["invalid"]
    assert all(c["status"] != "fail" for c in lake.history()[-1].checks)


def test_a_failed_check_publishes_nothing(lake: Lakehouse, small_export: Path, monkeypatch) -> None:
    lake.run(small_export)
    before = lake.kpis()
    from insightflow.transform import models

    broken = tuple(
        m if m.table != "marts.fact_sales" else models.Model(**{**m.__dict__, "checks": (
            {"check": "range", "column": "order_quantity", "max": 1},)})
        for m in models.load_models()
    )
    monkeypatch.setattr("insightflow.transform.models.load_models", lambda: broken)
    with pytest.raises(QualityGateError, match=r"marts.fact_sales: range\(order_quantity\) failed on 4 rows"):
        lake.run(small_export)
    assert lake.kpis() == before
    assert lake.history()[-1].status == "failed"
    failed = [c for c in lake.quality().checks if c["status"] == "fail"]
    assert [(c["table"], c["check"], c["failing_rows"]) for c in failed] == [
        ("marts.fact_sales", "range(order_quantity)", 4)
    ]
    assert len(failed[0]["examples"]) == 4


def test_kpis_before_any_run_say_what_to_do(lake: Lakehouse) -> None:
    with pytest.raises(InsightFlowError, match="no published run yet"):
        lake.kpis()


def test_concurrent_runs_take_turns_and_equal_a_single_run(tmp_path: Path, small_export: Path) -> None:
    import subprocess
    import sys

    lake_dir = tmp_path / "shared-lake"
    command = [sys.executable, "-m", "insightflow.cli", "run", "--source", str(small_export), "--lake", str(lake_dir)]
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outcomes = [(p.wait(timeout=300), p.stderr.read()) for p in runs]
    assert [code for code, _ in outcomes] == [0, 0], outcomes
    shared = Lakehouse(lake_dir)
    single = Lakehouse(tmp_path / "single")
    single.run(small_export)
    assert shared.kpis() == single.kpis()
    rows = {t.name: t.rows for t in shared.tables() if not t.name.startswith("ops.")}
    assert rows == {t.name: t.rows for t in single.tables() if not t.name.startswith("ops.")}


def test_a_run_that_cannot_get_the_lock_is_refused_clearly(lake: Lakehouse, small_export: Path) -> None:
    from insightflow.errors import LakeBusyError
    from insightflow.lake.lock import lake_lock

    impatient = Lakehouse(lake.layout.root, lock_timeout=0.2)
    with lake_lock(lake.layout), pytest.raises(LakeBusyError, match="busy"):
        impatient.run(small_export)


def test_a_run_that_waited_for_the_lock_publishes_after_the_one_it_waited_for(tmp_path: Path,
                                                                              small_export: Path) -> None:
    from insightflow.lake import last_published
    from insightflow.run import PipelineRun
    from insightflow.transform.models import stage_models

    changed = write_export(tmp_path / "changed", {"orders": [[*ORDERS[0][:3], "7", *ORDERS[0][4:]], *ORDERS[1:]]})
    lake = Lakehouse(tmp_path / "lake")
    waiting = PipelineRun(lake.catalog, changed)  # made first (it would have waited for the lock) ...
    lake.run(small_export)  # ... while another run held the lake and published
    with waiting:
        waiting.ingest()
        for model in stage_models("all"):
            waiting.build(model)
        waiting.publish()
    runs = Lakehouse(lake.layout.root).history()
    assert last_published(runs).run_id == waiting.run_id
    expected = Lakehouse(tmp_path / "in-turn")
    expected.run(small_export)
    expected.run(changed)
    assert Lakehouse(lake.layout.root).kpis() == expected.kpis()
