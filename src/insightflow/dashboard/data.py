"""What the dashboard shows, read through the query layer: the KPI catalogue and sandboxed SQL.

Nothing here knows Streamlit: the app caches these answers per (filters, published run) and draws
them. Every figure comes from ``Lakehouse.kpis``/``Lakehouse.kpi`` (the same numbers as
``insightflow kpis`` and the HTTP API); the order lines of the drill-down come from one sandboxed,
audited statement (``Lakehouse.query``) whose values are bound into the parsed tree by sqlglot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
import pyarrow as pa
import sqlglot
from sqlglot import exp

from insightflow.lake import RunRecord, last_published
from insightflow.lakehouse import Lakehouse
from insightflow.query import KpiFilters, Limits, QueryResult
from insightflow.query.catalogue import FILTERS, LINES_SOURCE

# The tables the dashboard reads, shown with their snapshot ids in the freshness line.
READS = ("marts.fact_sales", "marts.order_summary", "curated.product_dim")

TOP_PRODUCTS = 5
DRILL_MAX_ROWS = 10_000

# The order lines of one category (and product): the catalogue's ``lines`` relation with its
# filters (src/insightflow/query/catalogue.py), and the product's.
ORDER_LINES_SQL = f"""
SELECT l.order_id, l.shipping_date, l.shipping_mode, l.customer_segment, l.category_name,
       l.product_name, l.order_quantity, l.product_price, l.gross_sales, l.discount_amount,
       l.net_sales, l.profit, l.order_size_category
FROM ({LINES_SOURCE}) AS l
WHERE {FILTERS.format(t="l")}
  AND (CAST($category AS VARCHAR) IS NULL OR l.category_name = CAST($category AS VARCHAR))
  AND (CAST($product AS VARCHAR) IS NULL OR l.product_name = CAST($product AS VARCHAR))
ORDER BY l.order_id, l.product_id
"""


@dataclass(frozen=True)
class LakeStatus:
    """Which run the dashboard shows, and whether a newer run failed."""

    root: str
    published: RunRecord | None  # the newest successful run: what every reader sees
    last: RunRecord | None  # the newest pipeline run (rollbacks excluded), successful or not

    @property
    def empty(self) -> bool:
        return self.published is None

    @property
    def run_id(self) -> str | None:
        """The published run: the cache key of every figure."""
        return self.published.run_id if self.published else None

    @property
    def last_failed(self) -> bool:
        return self.last is not None and self.last.status == "failed"

    def failed_checks(self) -> list[dict]:
        """The checks that failed in the last run (empty when it failed before the checks)."""
        if not self.last_failed:
            return []
        return [c for c in self.last.checks if c.get("status") == "fail"]

    def quality(self) -> dict[str, int]:
        """Check outcomes of the published run: pass, warn and fail counts."""
        statuses = [c.get("status", "pass") for c in (self.published.checks if self.published else [])]
        return {s: statuses.count(s) for s in ("pass", "warn", "fail")}

    def warnings(self) -> list[dict]:
        return [c for c in (self.published.checks if self.published else []) if c.get("status") == "warn"]

    def snapshots(self) -> list[tuple[str, int | None, int | None]]:
        """(table, snapshot id, rows) of the tables the dashboard reads, at the published run."""
        if not self.published:
            return []
        rows = {s["step"]: s.get("rows") for s in self.published.steps}
        return [(t, self.published.snapshots.get(t), rows.get(t)) for t in READS]

    @property
    def finished_at(self) -> datetime | None:
        return self.published.finished_at if self.published else None


@dataclass(frozen=True)
class FilterOptions:
    """The values each filter can take in the published data (unfiltered)."""

    years: list[int] = field(default_factory=list)
    quarters: list[int] = field(default_factory=lambda: [1, 2, 3, 4])
    shipping_modes: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    segments: list[str] = field(default_factory=list)


@dataclass
class Figures:
    """Every card and chart of the dashboard for one set of filters."""

    summary: dict
    on_time_by_mode: pd.DataFrame
    profit_margin_by_category: pd.DataFrame
    top_products: pd.DataFrame
    shipping_days_by_month: pd.DataFrame
    sales_by_segment: pd.DataFrame
    order_size_mix: pd.DataFrame

    @property
    def late_share(self) -> float:
        """Late deliveries as a share of orders placed."""
        orders = self.summary["orders_placed"]
        return self.summary["late_deliveries"] / orders if orders else 0.0

    @property
    def empty(self) -> bool:
        """No order matches the filters."""
        return not self.summary["orders_placed"] and not self.summary["products_ordered"]


class DashboardData:
    """The dashboard's reads of one lake."""

    def __init__(self, lake: Lakehouse) -> None:
        self.lake = lake

    def status(self) -> LakeStatus:
        runs = self.lake.history()
        newest = next((r for r in reversed(runs) if not r.is_rollback), None)
        return LakeStatus(str(self.lake.layout.root), last_published(runs), newest)

    def options(self) -> FilterOptions:
        """Filter values from the unfiltered catalogue KPIs (so they exist in the data)."""
        months = self.frame("shipping_days_by_month", KpiFilters())
        return FilterOptions(
            years=sorted({m.year for m in months["month"].dropna()}),
            shipping_modes=sorted(self.frame("on_time_by_mode", KpiFilters())["shipping_mode"].dropna()),
            categories=sorted(self.frame("profit_margin_by_category", KpiFilters())["category_name"].dropna()),
            segments=sorted(self.frame("sales_by_segment", KpiFilters())["customer_segment"].dropna()),
        )

    def figures(self, filters: KpiFilters) -> Figures:
        return Figures(
            summary=self.lake.kpis(filters=filters),
            on_time_by_mode=self.frame("on_time_by_mode", filters),
            profit_margin_by_category=self.frame("profit_margin_by_category", filters),
            top_products=self.frame("top_products", filters, top=TOP_PRODUCTS),
            shipping_days_by_month=self.frame("shipping_days_by_month", filters),
            sales_by_segment=self.frame("sales_by_segment", filters),
            order_size_mix=self.frame("order_size_mix", filters),
        )

    def products(self, filters: KpiFilters) -> pd.DataFrame:
        """Every product with sales under ``filters`` (the drill-down's second level)."""
        return self.frame("top_products", filters, top=1000)

    def order_lines(self, filters: KpiFilters, product: str | None = None,
                    max_rows: int = DRILL_MAX_ROWS) -> tuple[pd.DataFrame, bool]:
        """The order lines under ``filters`` (and of ``product``); (lines, cut at ``max_rows``)."""
        statement = bind(ORDER_LINES_SQL, {**filters.params(), "product": product})
        result = self.lake.query(statement, limits=Limits(max_rows=max_rows))
        return to_frame(result), result.truncated

    def frame(self, name: str, filters: KpiFilters, top: int = 10) -> pd.DataFrame:
        return to_frame(self.lake.kpi(name, filters, top=top))


def bind(sql: str, params: dict) -> str:
    """``sql`` with each ``$name`` placeholder replaced by ``params[name]`` as a typed literal node.

    The values become nodes of the parsed tree (strings quoted and escaped by sqlglot), never text
    pasted into the statement, so a value like ``Men's Footwear`` or ``x' OR 1=1 --`` stays a
    string literal.
    """
    tree = sqlglot.parse_one(sql, dialect="duckdb")

    def literal(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder):
            return exp.convert(params[node.name])
        return node

    return tree.transform(literal).sql(dialect="duckdb")


def to_frame(result: QueryResult) -> pd.DataFrame:
    """A query result as a DataFrame, decimals (DuckDB sums of integers) as plain numbers."""
    table = result.arrow
    for index, column in enumerate(table.schema):
        if pa.types.is_decimal(column.type):
            target = pa.int64() if column.type.scale == 0 else pa.float64()
            table = table.set_column(index, column.name, table.column(index).cast(target))
    return table.to_pandas()
