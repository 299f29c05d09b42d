"""Acceptance on the DataCo reference export: the figures of docs/DATA.md, exactly."""

from __future__ import annotations

import pytest

from insightflow import Lakehouse

pytestmark = pytest.mark.reference

EXPECTED = {
    "products_ordered": 334_107,
    "gross_sales": 32_314_681.23,
    "discount": 3_262_338.00,
    "net_sales": 29_052_343.22,
    "net_profit": 3_485_038.74,
    "orders_placed": 65_752,
    "avg_shipping_days": 3.93,
    "late_deliveries": 33_423,
}
ON_TIME_PERCENT = {"First Class": 46.2, "Same Day": 49.7, "Second Class": 46.4, "Standard Class": 53.3}


def test_kpis_match_design_figures_to_the_cent(reference_lake: Lakehouse) -> None:
    kpis = reference_lake.kpis()
    for name, value in EXPECTED.items():
        assert kpis[name] == value, name
    assert {m: round(r * 100, 1) for m, r in kpis["on_time_rate_by_mode"].items()} == ON_TIME_PERCENT


def test_star_schema_sizes_and_unique_keys(reference_lake: Lakehouse) -> None:
    rows = {t.name: t.rows for t in reference_lake.tables()}
    assert rows["marts.fact_sales"] == 159_763
    assert rows["curated.customer_dim"] == 20_652
    assert rows["curated.product_dim"] == 118
    assert rows["curated.order_dim"] == 159_763
    assert rows["curated.delivery_dim"] == 65_752
    for table, key in [
        ("curated.customer_dim", "customer_id"),
        ("curated.product_dim", "product_id"),
        ("curated.order_dim", "order_line_key"),
        ("curated.delivery_dim", "order_id"),
        ("marts.fact_sales", "sales_key"),
    ]:
        _, duplicates = reference_lake.sql(f"SELECT {key} FROM {table} GROUP BY 1 HAVING count(*) > 1")
        assert duplicates == [], table


def test_quirks_are_repaired_and_flagged_not_quarantined(reference_lake: Lakehouse) -> None:
    assert reference_lake.quarantine() == []
    _, shifted = reference_lake.sql(
        "SELECT customer_id, customer_state, customer_zipcode FROM curated.customer_dim "
        "WHERE _repairs LIKE '%shifted_columns%' ORDER BY 1"
    )
    assert [row[0] for row in shifted] == [14046, 14577, 17171]
    assert all(state == "CA" and len(zip_code) == 5 for _, state, zip_code in shifted)
    _, moved = reference_lake.sql(
        "SELECT count(*) FROM curated.customer_dim WHERE _repairs LIKE '%last_name_in_first_name%'"
    )
    assert moved == [(8,)]
    _, zips = reference_lake.sql(
        "SELECT count(*) FILTER (WHERE length(customer_zipcode) <> 5), "
        "count(*) FILTER (WHERE customer_zipcode = '00725') FROM curated.customer_dim"
    )
    assert zips[0][0] == 0 and zips[0][1] > 0
    _, names = reference_lake.sql(
        "SELECT count(*) FROM curated.product_dim WHERE product_name <> trim(product_name) "
        "OR product_name LIKE '%  %'"
    )
    assert names == [(0,)]


def test_every_raw_row_is_accounted_for(reference_lake: Lakehouse) -> None:
    run = reference_lake.history()[-1]
    conservation = [c for c in run.checks if c["check"].startswith("row_conservation")]
    assert len(conservation) == 5
    assert all(c["failing_rows"] == 0 for c in conservation)
    assert all(c["status"] != "fail" for c in run.checks)
    assert {c["check"] for c in run.checks if c["status"] == "warn"} == {"freshness(shipping_date)"}


def test_second_run_on_the_same_folder_changes_no_table(
    tmp_path, reference_dir, reference_lake: Lakehouse
) -> None:
    lake = Lakehouse(tmp_path / "lake")
    lake.run(reference_dir)
    before = {t.name: t.rows for t in lake.tables()}
    lake.run(reference_dir)
    after = {t.name: t.rows for t in lake.tables()}
    assert {k: v for k, v in after.items() if not k.startswith("ops.")} == {k: v for k, v in before.items() if not k.startswith("ops.")}
    assert lake.kpis() == reference_lake.kpis()
