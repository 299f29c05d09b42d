"""The dashboard rendered by Streamlit's AppTest: cards, charts, filters, drill-down, empty and
failed lakes. Every figure is compared with what the query layer answers for the same filters."""

from __future__ import annotations

from pathlib import Path

import pytest

from insightflow import Lakehouse
from insightflow.errors import InsightFlowError, QualityGateError
from insightflow.query import KpiFilters
from tests.dashboard.conftest import cards, charts, expected_cards

# The reference figures of docs/DATA.md, as the original dashboard wrote them.
REFERENCE_CARDS = {
    "Products Ordered": "334,107",
    "Gross Sales": "$32,314,681.23",
    "Net Profit": "$3,485,038.74",
    "Orders Placed": "65,752",
    "Net Sales": "$29,052,343.22",
    "Discount": "$3,262,338.00",
    "Avg Shipping Days": "3.93 days",
    "Late-Delivery Share": "50.8%",  # 33,423 of 65,752 orders
    "Total Delayed Orders": "33,423",
}
CHART_TITLES = {
    "Average Shipping Days by Month",
    "Profit Margin by Product Category",
    "On-Time Delivery Rate by Shipping Mode",
    "Late Deliveries across Shipping Modes",
    "Top 5 Products by Sales",
    "Share of Profit by Customer Segment",
    "Order-Size Mix (order lines)",
}
# One value per filter; "Men's Footwear" also proves a quote in a value is bound, not pasted.
FILTERS = [
    ("year", 2017),
    ("quarter", 3),
    ("shipping_mode", "Same Day"),
    ("category", "Men's Footwear"),
    ("segment", "Corporate"),
]


def test_the_cards_show_the_reference_figures(reference_lake: Lakehouse, dashboard) -> None:
    app = dashboard(reference_lake.layout.root)
    assert cards(app) == REFERENCE_CARDS
    assert set(charts(app)) == CHART_TITLES
    on_time = charts(app)["On-Time Delivery Rate by Shipping Mode"][0]
    assert on_time["x"] == ["First Class", "Same Day", "Second Class", "Standard Class"]
    assert [f"{rate:.1%}" for rate in on_time["y"]] == ["46.2%", "49.7%", "46.4%", "53.3%"]
    freshness = " ".join(c.value for c in app.caption)
    published = [r for r in reference_lake.history() if r.status == "success"][-1]
    assert f"run **{published.run_id}**" in freshness
    assert f"snapshot {published.snapshots['marts.fact_sales']} (159,763 rows)" in freshness
    assert "Data quality of that run: **passed**" in freshness and "0 failed" in freshness
    assert not app.error and dict(app.query_params) == {}


@pytest.mark.parametrize(("name", "value"), FILTERS, ids=[name for name, _ in FILTERS])
def test_each_filter_changes_every_figure_as_the_query_layer_says(
    reference_lake: Lakehouse, dashboard, name: str, value
) -> None:
    app = dashboard(reference_lake.layout.root)
    app.selectbox(key=f"filter_{name}").select(value).run()
    assert not app.exception
    filters = KpiFilters(**{name: value})

    assert cards(app) == expected_cards(reference_lake.kpis(filters=filters))
    assert cards(app) != REFERENCE_CARDS
    assert dict(app.query_params) == {name: str(value)}  # the view is shareable by its URL
    _assert_charts_match(app, reference_lake, filters)


def test_a_shared_url_opens_the_same_view(reference_lake: Lakehouse, dashboard) -> None:
    app = dashboard(reference_lake.layout.root, year="2016", quarter="2", segment="Consumer")
    filters = KpiFilters(year=2016, quarter=2, segment="Consumer")
    assert cards(app) == expected_cards(reference_lake.kpis(filters=filters))
    assert app.selectbox(key="filter_year").value == 2016
    assert app.selectbox(key="filter_segment").value == "Consumer"
    _assert_charts_match(app, reference_lake, filters)


def test_a_url_value_not_in_the_data_is_dropped_with_a_note(reference_lake: Lakehouse, dashboard) -> None:
    app = dashboard(reference_lake.layout.root, year="1999", shipping_mode="Teleport")
    assert cards(app) == REFERENCE_CARDS
    notes = [w.value for w in app.warning]
    assert any("year '1999'" in n for n in notes) and any("'Teleport'" in n for n in notes)


def test_drill_down_from_category_to_product_to_order_lines(reference_lake: Lakehouse, dashboard) -> None:
    app = dashboard(reference_lake.layout.root, year="2017")
    app.selectbox(key="drill_category").select("Men's Footwear").run()
    filters = KpiFilters(year=2017, category="Men's Footwear")
    products = reference_lake.kpi("top_products", filters, top=1000)
    shown = app.dataframe[0].value
    assert list(shown["product_name"]) == [row[0] for row in products.rows]

    product = products.rows[0][0]
    app.selectbox(key="drill_product::Men's Footwear").select(product).run()
    assert not app.exception
    lines = app.dataframe[0].value
    assert set(lines["product_name"]) == {product} and set(lines["category_name"]) == {"Men's Footwear"}
    assert {d.year for d in lines["shipping_date"]} == {2017}
    # the lines add up to the product's figures in the KPI catalogue
    assert lines["order_quantity"].sum() == products.rows[0][2]
    assert lines["gross_sales"].sum() == pytest.approx(products.rows[0][3], abs=0.01)
    assert app.get("download_button")[0].proto.label == "Download these order lines as CSV"


def test_an_empty_lake_says_what_to_run(tmp_path: Path, dashboard) -> None:
    root = tmp_path / "no-lake-yet"
    app = dashboard(root)
    assert [h.value for h in app.header] == ["No data yet"]
    assert [c.value for c in app.code] == [
        f"insightflow demo --lake {root}",
        f"insightflow run --source DIR --lake {root}",
    ]
    assert not app.metric and not app.get("plotly_chart")
    assert not root.exists()  # looking did not create a lake


def test_a_failed_run_shows_a_banner_and_the_last_good_snapshot(
    lake: Lakehouse, small_export: Path, dashboard, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake.run(small_export)
    good = lake.kpis()
    from insightflow.transform import models

    broken = tuple(
        m if m.table != "marts.fact_sales" else models.Model(**{**m.__dict__, "checks": (
            {"check": "range", "column": "order_quantity", "max": 1},)})
        for m in models.load_models()
    )
    monkeypatch.setattr("insightflow.transform.models.load_models", lambda: broken)
    with pytest.raises(QualityGateError):
        lake.run(small_export)
    failed = lake.history()[-1]

    app = dashboard(lake.layout.root)
    banner = " ".join(e.value for e in app.error)
    assert "The last run failed" in banner and failed.run_id in banner
    assert "check range(order_quantity) on marts.fact_sales failed on 4 rows" in banner
    assert "last good snapshot" in banner
    assert cards(app) == expected_cards(good)


def test_a_lake_whose_only_run_failed_shows_the_banner_and_what_to_run(
    lake: Lakehouse, tmp_path: Path, dashboard
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "OrderDetails.csv").write_text("not,an,export\n")
    with pytest.raises(InsightFlowError):
        lake.run(broken)
    app = dashboard(lake.layout.root)
    assert "The last run failed" in " ".join(e.value for e in app.error)
    assert [h.value for h in app.header] == ["No data yet"]


def _assert_charts_match(app, lake: Lakehouse, filters: KpiFilters) -> None:
    """Every chart drew exactly the rows the KPI catalogue returns for ``filters``."""
    drawn = charts(app)

    def rows(name: str, top: int = 10) -> list[tuple]:
        return lake.kpi(name, filters, top=top).rows

    on_time = rows("on_time_by_mode")
    bars = drawn["On-Time Delivery Rate by Shipping Mode"][0]
    assert bars["x"] == [r[0] for r in on_time]
    assert bars["y"] == pytest.approx([r[3] for r in on_time])
    pie = drawn["Late Deliveries across Shipping Modes"][0]
    assert pie["labels"] == [r[0] for r in on_time] and pie["values"] == [int(r[2]) for r in on_time]

    top = rows("top_products", top=5)
    products = drawn["Top 5 Products by Sales"][0]
    assert products["y"] == [r[0] for r in reversed(top)]
    assert products["x"] == pytest.approx([r[3] for r in reversed(top)])

    months = rows("shipping_days_by_month")
    area = drawn["Average Shipping Days by Month"][0]
    assert [m[:7] for m in area["x"]] == [f"{r[0]:%Y-%m}" for r in months]
    assert area["y"] == pytest.approx([r[2] for r in months])

    margins = [r for r in rows("profit_margin_by_category") if r[1] and r[1] > 0]
    treemap = drawn["Profit Margin by Product Category"][0]
    assert treemap["labels"] == ["All categories", *[r[0] for r in margins]]
    assert treemap["values"][1:] == pytest.approx([r[1] for r in margins])
    assert treemap["marker"]["colors"][1:] == pytest.approx([r[3] for r in margins])

    segments = rows("sales_by_segment")
    donut = drawn["Share of Profit by Customer Segment"][0]
    assert donut["labels"] == [r[0] for r in segments]
    assert donut["values"] == pytest.approx([r[4] for r in segments])

    sizes = {r[0]: r[1] for r in rows("order_size_mix")}
    mix = drawn["Order-Size Mix (order lines)"][0]
    assert dict(zip(mix["x"], mix["y"], strict=True)) == sizes


def test_the_drill_down_selection_is_kept_in_the_url(reference_lake: Lakehouse, dashboard) -> None:
    app = dashboard(reference_lake.layout.root, year="2017")
    app.selectbox(key="drill_category").select("Fishing").run()
    assert dict(app.query_params) == {"year": "2017", "drill_category": "Fishing"}
    product = reference_lake.kpi("top_products", KpiFilters(year=2017, category="Fishing"), top=1).rows[0][0]
    app.selectbox(key="drill_product::Fishing").select(product).run()
    assert dict(app.query_params) == {"year": "2017", "drill_category": "Fishing", "drill_product": product}

    reloaded = dashboard(reference_lake.layout.root, **dict(app.query_params))
    assert reloaded.selectbox(key="drill_category").value == "Fishing"
    assert reloaded.selectbox(key="drill_product::Fishing").value == product
    lines = reloaded.dataframe[0].value
    assert set(lines["product_name"]) == {product} and {d.year for d in lines["shipping_date"]} == {2017}


def test_a_stale_or_unknown_drill_down_in_the_url_falls_back(reference_lake: Lakehouse, dashboard) -> None:
    app = dashboard(reference_lake.layout.root, drill_category="Teleporters", drill_product="Nothing")
    assert app.selectbox(key="drill_category").value == "—" and not app.dataframe
    assert dict(app.query_params) == {}
    app = dashboard(reference_lake.layout.root, drill_category="Fishing", drill_product="Not a product")
    assert app.selectbox(key="drill_product::Fishing").value == "All products"
    assert dict(app.query_params) == {"drill_category": "Fishing"}


def test_the_drill_down_tables_name_their_columns_once(reference_lake: Lakehouse, dashboard) -> None:
    """Human column names in one style, and neither the category nor the product in every row."""
    app = dashboard(reference_lake.layout.root, drill_category="Fishing")
    products = _columns_shown(app.dataframe[0])
    assert products == ["Product", "Units", "Gross sales", "Net sales", "Profit"]
    product = app.dataframe[0].value["product_name"].iloc[0]
    app = dashboard(reference_lake.layout.root, drill_category="Fishing", drill_product=product)
    lines = _columns_shown(app.dataframe[0])
    assert lines == ["Order", "Shipped", "Shipping mode", "Segment", "Units", "Price", "Gross sales",
                     "Discount", "Net sales", "Profit", "Order size"]
    assert all(name[0].isupper() and "_" not in name for name in products + lines)


def _columns_shown(table) -> list[str]:
    """The labels of the columns a st.dataframe shows, in their order."""
    import json

    config = json.loads(table.proto.columns)
    return [config[name]["label"] for name in table.proto.column_order]
