"""The InsightFlow dashboard: the original's Tableau dashboard as a Streamlit app.

Run by ``insightflow dashboard`` (``streamlit run`` of this file); the lake is ``$INSIGHTFLOW_LAKE``
(else ``./lakehouse``). Every figure comes from the query layer's KPI catalogue, cached per
(filters, published run): a new successful run changes the cache key, so nothing stale is shown.
The filters (in the sidebar, folded away on a phone) and the drill-down's selection live in the URL
query string, so a view can be shared by its address.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from insightflow.dashboard import charts
from insightflow.dashboard import filters as url
from insightflow.dashboard.data import (
    TOP_PRODUCTS,
    DashboardData,
    Figures,
    FilterOptions,
    LakeStatus,
)
from insightflow.dashboard.formatting import count, days, money, percent, rows
from insightflow.lake import LakeLayout
from insightflow.lakehouse import Lakehouse
from insightflow.query import KpiFilters

PLOT_CONFIG = {"displayModeBar": False, "responsive": True}
CHOOSE = "—"
ALL_PRODUCTS = "All products"
STYLE = """
<style>
.block-container {padding-top: 1.6rem; padding-bottom: 1rem; padding-left: 2rem; padding-right: 2rem;}
[data-testid="stMetricValue"] {font-size: 1.55rem;}
@media (max-width: 640px) {
  .block-container {padding-top: 3rem; padding-left: 1rem; padding-right: 1rem;}
  h1 {font-size: 1.75rem !important;}
  [data-testid="stMetricValue"] {font-size: 1.15rem;}
  /* two cards a row: Streamlit stacks columns one a row below 640 px */
  .st-key-kpi_cards [data-testid="stColumn"] {min-width: calc(50% - 0.5rem) !important; flex: 1 1 calc(50% - 0.5rem) !important;}
}
</style>
"""

FilterKey = tuple[tuple[str, object], ...]

# The drill-down's columns: one naming style, widths that fit every column of the order lines
# into a 1280-px window with the sidebar open (category and product are the selection itself,
# named above the table, so they are not repeated in every row; the CSV keeps them).
_MONEY = {"format": "dollar", "width": 86}
PRODUCT_COLUMNS = {
    "product_name": st.column_config.TextColumn("Product", width=330),
    "products_ordered": st.column_config.NumberColumn("Units", format="localized", width=70),
    "gross_sales": st.column_config.NumberColumn("Gross sales", **_MONEY),
    "net_sales": st.column_config.NumberColumn("Net sales", **_MONEY),
    "profit": st.column_config.NumberColumn("Profit", **_MONEY),
}
ORDER_LINE_COLUMNS = {
    "order_id": st.column_config.NumberColumn("Order", format="%d", width=62),
    "shipping_date": st.column_config.DateColumn("Shipped", format="YYYY-MM-DD", width=90),
    "shipping_mode": st.column_config.TextColumn("Shipping mode", width=106),
    "customer_segment": st.column_config.TextColumn("Segment", width=86),
    "order_quantity": st.column_config.NumberColumn("Units", format="localized", width=48),
    "product_price": st.column_config.NumberColumn("Price", **_MONEY),
    "gross_sales": st.column_config.NumberColumn("Gross sales", **_MONEY),
    "discount_amount": st.column_config.NumberColumn("Discount", **_MONEY),
    "net_sales": st.column_config.NumberColumn("Net sales", **_MONEY),
    "profit": st.column_config.NumberColumn("Profit", **_MONEY),
    "order_size_category": st.column_config.TextColumn("Order size", width=72),
}


# --- cached reads: one lake object per process, figures per (filters, published run) ---------


@st.cache_resource(show_spinner=False)
def _data(root: str) -> DashboardData:
    return DashboardData(Lakehouse(root))


@st.cache_data(show_spinner=False, max_entries=8)
def _options(root: str, run_id: str) -> FilterOptions:
    return _data(root).options()


@st.cache_data(show_spinner=False, max_entries=256)
def _figures(root: str, run_id: str, key: FilterKey) -> Figures:
    return _data(root).figures(KpiFilters(**dict(key)))


@st.cache_resource(show_spinner=False, max_entries=64)
def _charts(root: str, run_id: str, key: FilterKey) -> dict[str, go.Figure]:
    """The seven figures, built once per (filters, published run).

    Building a Plotly figure validates every property and takes most of a rerun (about 30 ms a
    figure); ``st.plotly_chart`` only serialises a copy, so the cached figures are never mutated and
    can be shared between sessions.
    """
    figures = _figures(root, run_id, key)
    summary = figures.summary
    margin = summary["net_profit"] / summary["net_sales"] if summary["net_sales"] else 0
    return {
        "shipping_days": charts.shipping_days_by_month(figures.shipping_days_by_month),
        "top_products": charts.top_products(figures.top_products, TOP_PRODUCTS),
        "margin": charts.profit_margin_by_category(figures.profit_margin_by_category, margin),
        "on_time": charts.on_time_by_mode(figures.on_time_by_mode),
        "late": charts.late_deliveries_by_mode(figures.on_time_by_mode),
        "segment": charts.profit_by_segment(figures.sales_by_segment),
        "order_size": charts.order_size_mix(figures.order_size_mix),
    }


@st.cache_data(show_spinner=False, max_entries=64)
def _products(root: str, run_id: str, key: FilterKey) -> pd.DataFrame:
    return _data(root).products(KpiFilters(**dict(key)))


@st.cache_data(show_spinner=False, max_entries=16)
def _order_lines(root: str, run_id: str, key: FilterKey, product: str) -> tuple[pd.DataFrame, bool, bytes]:
    lines, truncated = _data(root).order_lines(KpiFilters(**dict(key)), product)
    return lines, truncated, lines.to_csv(index=False).encode("utf-8")


def _key(filters: KpiFilters) -> FilterKey:
    return tuple(filters.params().items())


# --- the page ------------------------------------------------------------------------------


def main() -> None:
    # the sidebar (the filters) starts open on a wide window and folded on a phone
    st.set_page_config(page_title="InsightFlow · Supply Chain Dashboard", layout="wide",
                       initial_sidebar_state="auto")
    st.html(STYLE)  # a style-only st.html adds no element and needs no Markdown parser in the browser
    root = str(LakeLayout.resolve(None).root)
    status = _data(root).status()
    st.title("Supply Chain Dashboard")
    if status.last_failed:
        failure_banner(status)
    if status.empty:
        empty_page(status)
        return
    options = _options(root, status.run_id)
    filters = filter_bar(options)
    # the address follows a filter at once (the drill-down, drawn last, updates its part below)
    _write_url(filters, {name: st.query_params.get(name) for name in url.DRILL})
    freshness_line(status, filters)
    figures = _figures(root, status.run_id, _key(filters))
    kpi_cards(figures)
    drill = {}
    if figures.empty:
        st.info(f"No orders match these filters ({url.describe(filters)}). Choose *All* in a filter to widen them.")
    else:
        chart_grid(figures, _charts(root, status.run_id, _key(filters)))
        drill = drill_down(root, status, filters, figures)
    _write_url(filters, drill)


def _write_url(filters: KpiFilters, drill: dict) -> None:
    query = url.to_query(filters, drill)
    if dict(st.query_params) != query:
        st.query_params.from_dict(query)


def empty_page(status: LakeStatus) -> None:
    """No published data yet: say so, and give the exact commands that fill the lake."""
    st.header("No data yet")
    st.markdown(f"The lake at `{status.root}` has no published run, so there is nothing to show yet.")
    st.markdown("Load a synthetic export (about 160 K order lines) and run the pipeline on it:")
    st.code(f"insightflow demo --lake {status.root}", language="bash")
    st.markdown("or run the pipeline on your own exports (the four CSV files in one folder):")
    st.code(f"insightflow run --source DIR --lake {status.root}", language="bash")
    st.markdown("Then reload this page.")


def failure_banner(status: LakeStatus) -> None:
    """The last run failed: name what failed; the charts keep showing the last good snapshot."""
    last = status.last
    failed = status.failed_checks()
    if failed:
        what = "; ".join(
            f"check {c['check']} on {c['table']} failed on {c['failing_rows']:,} rows" for c in failed
        )
    else:
        what = (last.error or "unknown error").splitlines()[0]
    shown = (f"The dashboard shows the last good snapshot, from run {status.run_id}."
             if not status.empty else "No run has succeeded yet.")
    st.error(f"**The last run failed** ({last.run_id}, {last.finished_at:%Y-%m-%d %H:%M} UTC): {what}. {shown} "
             f"`insightflow quality --run {last.run_id}` shows every check.")


def filter_bar(options: FilterOptions) -> KpiFilters:
    """Five select boxes in the sidebar, seeded from the URL once per session (``main`` writes
    their values back to the URL).

    In the sidebar they leave a phone's first screen to the figures: Streamlit folds the sidebar
    away below 768 px, behind the arrow at the top left.
    """
    wanted, notes = url.from_query(st.query_params, options)
    allowed = url.choices(options)
    chosen = {}
    st.sidebar.header("Filters")
    for name in url.NAMES:
        state = f"filter_{name}"
        if state not in st.session_state or st.session_state[state] not in allowed[name]:
            current = getattr(wanted, name)
            st.session_state[state] = url.ALL if current is None else current
        value = st.sidebar.selectbox(url.LABELS[name], allowed[name], key=state,
                                     format_func=(lambda q: q if q == url.ALL else f"Q{q}") if name == "quarter" else str)
        chosen[name] = None if value == url.ALL else value
    for note in notes:
        st.warning(note)
    return KpiFilters(**chosen)


def freshness_line(status: LakeStatus, filters: KpiFilters) -> None:
    """What is shown (filters, run, quality) in one line; the tables' snapshot ids and row counts,
    and the checks that warned, behind a "Details" toggle."""
    quality = status.quality()
    checks = f"{quality['pass']} checks passed, {quality['warn']} warned, {quality['fail']} failed"
    st.caption(
        f"Showing **{url.describe(filters)}** (filters in the sidebar) · Data from run **{status.run_id}**, "
        f"finished {status.finished_at:%Y-%m-%d %H:%M} UTC · "
        f"Data quality of that run: **{'passed' if not quality['fail'] else 'FAILED'}**, {checks}"
    )
    with st.expander("Details"):
        tables = " · ".join(
            f"`{table}` snapshot {snapshot}" + (f" ({rows(n)})" if n is not None else "")
            for table, snapshot, n in status.snapshots()
        )
        warned = ", ".join(f"{c['check']} on {c['table']}" for c in status.warnings())
        st.caption(f"Run finished {status.finished_at:%Y-%m-%d %H:%M:%S} UTC · {tables}"
                   + (f"  \nChecks that warned: {warned}" if warned else ""))


def kpi_cards(figures: Figures) -> None:
    """The original's four cards, then net sales, discount, shipping days and late share."""
    s = figures.summary
    rows_of_cards = (
        [("Products Ordered", count(s["products_ordered"])), ("Gross Sales", money(s["gross_sales"])),
         ("Net Profit", money(s["net_profit"])), ("Orders Placed", count(s["orders_placed"]))],
        [("Net Sales", money(s["net_sales"])), ("Discount", money(s["discount"])),
         ("Avg Shipping Days", days(s["avg_shipping_days"])),
         ("Late-Delivery Share", percent(figures.late_share))],
    )
    with st.container(key="kpi_cards"):  # the key names the CSS class that sets two cards a row on a phone
        for cards in rows_of_cards:
            for column, (label, value) in zip(st.columns(len(cards)), cards, strict=True):
                column.metric(label, value, border=True)


def chart_grid(figures: Figures, figs: dict[str, go.Figure]) -> None:
    left, right = st.columns([3, 2])
    left.plotly_chart(figs["shipping_days"], config=PLOT_CONFIG, theme=None)
    right.plotly_chart(figs["top_products"], config=PLOT_CONFIG, theme=None)

    st.plotly_chart(figs["margin"], config=PLOT_CONFIG, theme=None)
    st.caption("Colours follow the margin, each shade covering an equal share of net sales, so the large "
               "categories, whose margins lie within a point of each other, can be told apart. "
               "Small tiles name their category on hover.")

    bars, pie = st.columns([3, 2])
    bars.plotly_chart(figs["on_time"], config=PLOT_CONFIG, theme=None)
    with pie:
        st.metric("Total Delayed Orders", count(figures.summary["late_deliveries"]), border=True)
        st.plotly_chart(figs["late"], config=PLOT_CONFIG, theme=None)

    segment, size = st.columns(2)
    segment.plotly_chart(figs["segment"], config=PLOT_CONFIG, theme=None)
    size.plotly_chart(figs["order_size"], config=PLOT_CONFIG, theme=None)


def drill_down(root: str, status: LakeStatus, filters: KpiFilters, figures: Figures) -> dict[str, str]:
    """Category → product → order lines, under the same filters; the lines download as CSV.

    The selection is seeded from the URL (``drill_category``, ``drill_product``) once per session,
    like the filters; returns it as those query parameters, for ``main`` to write to the URL.
    """
    st.subheader("Drill down: category → product → order lines")
    categories = sorted(figures.profit_margin_by_category["category_name"].dropna())
    pick_category, pick_product = st.columns(2)
    chosen = {}
    if filters.category:
        category = pick_category.selectbox("Category", [filters.category], disabled=True,
                                           help="Set by the product category filter.")
    else:
        _seed("drill_category", [CHOOSE, *categories], st.query_params.get("drill_category"))
        category = pick_category.selectbox("Category", [CHOOSE, *categories], key="drill_category")
        chosen["drill_category"] = category if category != CHOOSE else None
    if category == CHOOSE:
        pick_product.selectbox("Product", [CHOOSE], disabled=True, key="drill_product_none")
        # No table until a category is chosen: the treemap above already shows each category's
        # sales, profit and margin, and a table here would load Streamlit's data grid (about
        # 1.5 MB of JavaScript and a canvas) into every first render.
        st.caption("Choose a category to list its products, then a product to list its order lines.")
        return {}
    in_category = KpiFilters(**{**filters.params(), "category": category})
    products = _products(root, status.run_id, _key(in_category))
    state, choices = f"drill_product::{category}", [ALL_PRODUCTS, *products["product_name"]]
    # the URL's product belongs to the URL's category; after choosing another one it is stale
    url_category = st.query_params.get("drill_category") or filters.category
    _seed(state, choices, st.query_params.get("drill_product") if url_category == category else None)
    product = pick_product.selectbox("Product", choices, key=state)
    if product == ALL_PRODUCTS:
        st.caption(f"{count(len(products))} products of {category} ({url.describe(filters)})")
        st.dataframe(products, hide_index=True, column_config=PRODUCT_COLUMNS,
                     column_order=list(PRODUCT_COLUMNS))
        return chosen
    chosen["drill_product"] = product
    lines, truncated, csv = _order_lines(root, status.run_id, _key(in_category), product)
    st.caption(f"{count(len(lines))} order lines of {product} in {category} ({url.describe(filters)})"
               + (f"; only the first {count(len(lines))} are shown" if truncated else ""))
    st.dataframe(lines, hide_index=True, column_config=ORDER_LINE_COLUMNS, column_order=list(ORDER_LINE_COLUMNS))
    st.download_button("Download these order lines as CSV", csv, file_name=_file_name(product, in_category),
                       mime="text/csv")
    return chosen


def _seed(state: str, choices: list, wanted: str | None) -> None:
    """Start a select box at the URL's value (if the data has it) unless the session already chose."""
    if state not in st.session_state or st.session_state[state] not in choices:
        st.session_state[state] = wanted if wanted in choices else choices[0]


def _file_name(product: str, filters: KpiFilters) -> str:
    parts = [product, *(str(v) for k, v in filters.active().items() if k != "category")]
    slug = "-".join("".join(ch if ch.isalnum() else "-" for ch in p).strip("-") for p in parts)
    return f"order-lines-{slug.lower()}.csv"


if __name__ == "__main__":  # `streamlit run` executes this file as __main__
    main()
