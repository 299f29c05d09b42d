"""Incremental runs: each rebuilds only what its new loads change, and its tables equal a full
refresh over the same loads — with daily exports, late-arriving keys, duplicates and defects."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from insightflow import Lakehouse
from insightflow.generate.daily import generate_days
from tests.exports import CUSTOMERS, DELIVERIES, ORDERS, write_export

SCHEMAS = ("curated", "marts", "quarantine")


def published_rows(lake: Lakehouse) -> dict[str, set[tuple]]:
    """Every published row of every curated, mart and quarantine table, as a set per table."""
    reader = lake.reader()
    tables = {}
    for name in lake.catalog.table_names():
        if name.split(".")[0] not in SCHEMAS:
            continue
        files = list(lake.catalog.resolve(name, reader.snapshots.get(name)).files)
        tables[name] = set(duckdb.sql(f"SELECT * FROM read_parquet({files}, union_by_name = true)").fetchall()) \
            if files else set()
    return tables


def full_refresh_of(lake: Lakehouse, source: Path, copy: Path) -> Lakehouse:
    """A copy of ``lake`` rebuilt whole from every load it holds."""
    shutil.copytree(lake.layout.root, copy)
    refreshed = Lakehouse(copy)
    record = refreshed.run(source, full_refresh=True)
    assert all(o["step"] in ("crawl", "ingest", "publish") or o["rows_in"] is not None for o in record.steps)
    return refreshed


def assert_same_tables(left: Lakehouse, right: Lakehouse) -> None:
    a, b = published_rows(left), published_rows(right)
    assert a.keys() == b.keys()
    for name in a:
        assert a[name] == b[name], (name, sorted(a[name] - b[name])[:3], sorted(b[name] - a[name])[:3])


def test_daily_exports_merge_to_what_a_full_refresh_builds(tmp_path: Path) -> None:
    days = generate_days(tmp_path / "days", 4, scale=0.05, seed=7).folders
    lake = Lakehouse(tmp_path / "lake")
    runs = [lake.run(day) for day in days]
    steps = {s["step"]: s for s in runs[-1].steps}
    # day 4 evaluates the new load of the dims, but only the order lines it changed downstream
    assert steps["curated.order_dim"]["rows_in"] == steps["curated.order_dim"]["rows"] > 0
    assert 0 < steps["marts.fact_sales"]["rows_in"] < steps["marts.fact_sales"]["rows"] / 10
    assert 0 < steps["marts.order_summary"]["rows_in"] < steps["marts.order_summary"]["rows"] / 10
    assert steps["curated.customer_dim"]["rows_in"] == 0  # the same customers: not even evaluated
    assert all(c["status"] != "fail" for c in runs[-1].checks)
    assert_same_tables(lake, full_refresh_of(lake, days[-1], tmp_path / "refreshed"))
    fresh = Lakehouse(tmp_path / "fresh")
    fresh.run(days[-1])
    assert lake.kpis() == fresh.kpis()  # a full export holds every key: the last one says it all
    assert lake.kpis() != lake.kpis(as_of=runs[0].run_id)  # and the days did change the figures


def test_a_dirty_daily_series_conserves_every_row_and_matches_a_full_refresh(tmp_path: Path) -> None:
    days = generate_days(tmp_path / "days", 3, scale=0.05, seed=3, dirty=0.05).folders
    lake = Lakehouse(tmp_path / "lake")
    for day in days:
        record = lake.run(day)
        conservation = [c for c in record.checks if c["check"].startswith("row_conservation")]
        assert conservation and all(c["status"] == "pass" for c in conservation), conservation
    assert lake.quarantine()
    assert_same_tables(lake, full_refresh_of(lake, days[-1], tmp_path / "refreshed"))


def only(folder: Path, **rows: list[list[str]]) -> Path:
    """An export of just the given sources (a partial export)."""
    write_export(folder, rows)
    names = {"customers": "CustomerDetails.csv", "products": "ProductDetails.csv",
             "orders": "OrderDetails.csv", "deliveries": "DeliveryDetails.csv"}
    for source, name in names.items():
        if source not in rows:
            (folder / name).unlink()
    return folder


def test_rows_waiting_for_a_late_customer_are_retried_when_it_arrives(tmp_path: Path) -> None:
    waiting = ["99", "9", "1360", "2", "0", "0", "0.1", "CASH", "CLOSED", "10"]
    # the same line again in the same load, for a known customer: published until 99 arrives, then
    # the first line of the load is the line's representative and this one a conflicting duplicate
    twin = ["1", "9", "1360", "3", "0", "0", "0.1", "CASH", "CLOSED", "10"]
    lake = Lakehouse(tmp_path / "lake")
    first = lake.run(write_export(tmp_path / "first", {
        "orders": [*ORDERS, waiting, twin, ["98", "10", "365", "1", "0", "0", "0.1", "CASH", "CLOSED", "10"]],
        "deliveries": [*DELIVERIES, ["9", "1", "Shipping on time", "0", "1/4/18", "First Class"],
                       ["10", "2", "Shipping on time", "0", "1/5/18", "Standard Class"]],
    }))
    assert {(r["line"], r["reason"]) for r in lake.quarantine("order_dim")} == {(8, "orphan_customer"),
                                                                              (10, "orphan_customer")}
    assert [r["reason"] for r in lake.quarantine("delivery_dim")] == ["orphan_order"]  # order 10 waits
    assert lake.sql("SELECT order_quantity FROM curated.order_dim WHERE order_id = 9")[1] == [(3,)]

    arrived = [*CUSTOMERS, ["99", "Late", "Comer", "Consumer", "Reno", "NV", "EE. UU.", "89501"],
               ["98", "Also", "Late", "Corporate", "Reno", "NV", "EE. UU.", "89501"]]
    second = lake.run(only(tmp_path / "second", customers=arrived))
    steps = {s["step"]: s for s in second.steps}
    assert steps["curated.order_dim"]["rows_in"] == 3  # the two lines of order 9 and the line of 10
    assert [(r["line"], r["reason"]) for r in lake.quarantine("order_dim")] == [(9, "duplicate_key")]
    assert lake.sql("SELECT order_quantity, customer_id FROM curated.order_dim WHERE order_id = 9")[1] == [(2, 99)]
    assert lake.quarantine("delivery_dim") == []  # order 10 exists now: its delivery is published
    assert lake.sql("SELECT count(*) FROM marts.fact_sales WHERE order_id = 10")[1] == [(1,)]
    assert all(c["status"] != "fail" for c in second.checks)
    assert_same_tables(lake, full_refresh_of(lake, tmp_path / "second", tmp_path / "refreshed"))
    assert lake.kpis(as_of=first.run_id) != lake.kpis()


def test_an_unchanged_export_builds_and_commits_nothing(tmp_path: Path, small_export: Path) -> None:
    lake = Lakehouse(tmp_path / "lake")
    first = lake.run(small_export)
    again = write_export(tmp_path / "again")  # same rows, a new file: a new load of the same values
    (again / "OrderDetails.csv").write_bytes((again / "OrderDetails.csv").read_bytes() + b"\r\n")
    second = lake.run(again)
    for table in ("curated.customer_dim", "curated.order_dim", "marts.fact_sales", "quarantine.order_dim"):
        assert second.snapshots[table] == first.snapshots[table], table
    steps = {s["step"]: s for s in second.steps}
    assert steps["curated.order_dim"]["rows_in"] == len(ORDERS)  # evaluated: every line repeats
    assert steps["marts.fact_sales"]["rows_in"] == 0  # nothing changed: not rebuilt
    # the repeated rows keep the lineage of the load that first delivered them
    assert {r for (r,) in lake.sql("SELECT DISTINCT _load_id FROM curated.order_dim")[1]} == {
        r for (r,) in lake.sql("SELECT DISTINCT _load_id FROM curated.order_dim", as_of=first.run_id)[1]}
    conservation = next(c for c in second.checks if c["check"] == "row_conservation(raw.orders)")
    assert conservation["status"] == "pass"


@pytest.mark.parametrize("change", ["model", "rollback"])
def test_a_changed_model_or_a_rollback_rebuilds_whole(tmp_path: Path, small_export: Path, change: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from insightflow.transform import models

    lake = Lakehouse(tmp_path / "lake")
    first = lake.run(small_export)
    update = only(tmp_path / "update", orders=[[*ORDERS[0][:3], "3", *ORDERS[0][4:]]])
    lake.run(update)
    if change == "model":  # a new definition of order_dim (say, after an upgrade)
        changed = tuple(models.Model(**{**m.__dict__, "grain": m.grain + " (v2)", "sql": m.sql + " "})
                        if m.table == "curated.order_dim" else m for m in models.load_models())
        monkeypatch.setattr("insightflow.transform.models.load_models", lambda: changed)
    else:
        lake.rollback("curated.order_dim", first.snapshots["curated.order_dim"])
    record = lake.run(only(tmp_path / "other", orders=[[*ORDERS[1][:3], "4", *ORDERS[1][4:]]]))
    steps = {s["step"]: s for s in record.steps}
    assert steps["curated.order_dim"]["rows_in"] == len(ORDERS) + 2  # every load, evaluated again
    assert steps["marts.fact_sales"]["rows_in"] == len(ORDERS)  # and everything built from it
    assert lake.sql("SELECT order_quantity FROM curated.order_dim WHERE order_id = 1")[1] == [(3,)]
    assert all(c["status"] != "fail" for c in record.checks)
