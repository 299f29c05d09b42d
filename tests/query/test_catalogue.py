"""Every KPI of the catalogue on the reference export, against docs/DATA.md and each other."""

from __future__ import annotations

import pytest

from insightflow import Lakehouse
from insightflow.query import CATALOGUE, KpiFilters
from tests.test_reference_acceptance import EXPECTED, ON_TIME_PERCENT

pytestmark = pytest.mark.reference


def rows(lake: Lakehouse, name: str, **kwargs) -> list[dict]:
    result = lake.kpi(name, **kwargs)
    return [dict(zip(result.columns, r, strict=True)) for r in result.rows]


def test_summary_matches_design(reference_lake: Lakehouse) -> None:
    figures = {r["products_ordered"]: r for r in rows(reference_lake, "summary")}
    assert list(figures) == [EXPECTED["products_ordered"]]
    kpis = reference_lake.kpis()
    assert {k: kpis[k] for k in EXPECTED} == EXPECTED


def test_on_time_and_late_deliveries_by_mode(reference_lake: Lakehouse) -> None:
    by_mode = {r["shipping_mode"]: r for r in rows(reference_lake, "on_time_by_mode")}
    assert {m: round(r["on_time_rate"] * 100, 1) for m, r in by_mode.items()} == ON_TIME_PERCENT
    assert sum(r["late_deliveries"] for r in by_mode.values()) == EXPECTED["late_deliveries"]
    assert sum(r["orders"] for r in by_mode.values()) == EXPECTED["orders_placed"]


def test_profit_margin_by_category_adds_up(reference_lake: Lakehouse) -> None:
    categories = rows(reference_lake, "profit_margin_by_category")
    assert len(categories) == 50
    assert round(sum(r["net_sales"] for r in categories), 2) == EXPECTED["net_sales"]
    assert round(sum(r["profit"] for r in categories), 2) == EXPECTED["net_profit"]
    margins = [r["profit_margin"] for r in categories]
    assert margins == sorted(margins, reverse=True)


def test_top_products_by_sales(reference_lake: Lakehouse) -> None:
    top = rows(reference_lake, "top_products", top=3)
    assert [r["product_name"] for r in top][0] == "Field & Stream Sportsman 16 Gun Fire Safe"
    assert len(top) == 3 and top[0]["gross_sales"] >= top[1]["gross_sales"] >= top[2]["gross_sales"]
    every = rows(reference_lake, "top_products", top=1000)
    assert round(sum(r["gross_sales"] for r in every), 2) == EXPECTED["gross_sales"]


def test_shipping_days_by_month(reference_lake: Lakehouse) -> None:
    months = rows(reference_lake, "shipping_days_by_month")
    assert len(months) == 48  # 2015-01 … 2018-12
    orders = sum(r["orders"] for r in months)
    assert orders == EXPECTED["orders_placed"]
    assert round(sum(r["avg_shipping_days"] * r["orders"] for r in months) / orders, 2) == 3.93


def test_sales_by_segment_and_order_size_mix(reference_lake: Lakehouse) -> None:
    segments = rows(reference_lake, "sales_by_segment")
    assert {r["customer_segment"] for r in segments} == {"Consumer", "Corporate", "Home Office"}
    assert round(sum(r["gross_sales"] for r in segments), 2) == EXPECTED["gross_sales"]
    mix = rows(reference_lake, "order_size_mix")
    assert sum(r["order_lines"] for r in mix) == 159_763
    assert sum(r["products_ordered"] for r in mix) == EXPECTED["products_ordered"]
    assert round(sum(r["share_of_lines"] for r in mix), 9) == 1


def test_filters_partition_the_figures(reference_lake: Lakehouse) -> None:
    years = [reference_lake.kpis(filters=KpiFilters(year=y)) for y in range(2015, 2019)]
    assert sum(y["orders_placed"] for y in years) == EXPECTED["orders_placed"]
    assert round(sum(y["gross_sales"] for y in years), 0) == round(EXPECTED["gross_sales"], 0)
    quarters = [reference_lake.kpis(filters=KpiFilters(year=2017, quarter=q)) for q in range(1, 5)]
    assert sum(q["orders_placed"] for q in quarters) == years[2]["orders_placed"]
    standard = reference_lake.kpis(filters=KpiFilters(shipping_mode="Standard Class"))
    assert set(standard["on_time_rate_by_mode"]) == {"Standard Class"}
    consumer = reference_lake.kpis(filters=KpiFilters(segment="Consumer"))
    assert consumer["gross_sales"] == round(
        next(r["gross_sales"] for r in rows(reference_lake, "sales_by_segment") if r["customer_segment"] == "Consumer"), 2)
    cleats = rows(reference_lake, "profit_margin_by_category", filters=KpiFilters(category="Cleats"))
    assert [r["category_name"] for r in cleats] == ["Cleats"]
    for name in CATALOGUE:  # every KPI takes every filter
        rows(reference_lake, name, filters=KpiFilters(2016, 2, "First Class", "Cleats", "Consumer"))


def test_filter_values_are_bound_not_pasted(reference_lake: Lakehouse) -> None:
    from insightflow.errors import UsageError
    from insightflow.query.kpis import kpi_summary

    hostile = KpiFilters(category="x' OR 1=1 --", segment="'; DROP VIEW marts.fact_sales; --")
    with pytest.raises(UsageError, match="no category"):  # not in the data: refused before any query
        reference_lake.kpis(filters=hostile)
    # and below that check, the values are parameters of the statement, never SQL
    assert kpi_summary(reference_lake.reader(), hostile)["orders_placed"] == 0
    assert reference_lake.kpis()["orders_placed"] == 65_752
