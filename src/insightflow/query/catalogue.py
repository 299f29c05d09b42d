"""The KPI catalogue: named, parameterised queries shared by the CLI, the API and the dashboard.

Every KPI reads one of two filtered relations: ``lines`` (order lines of ``marts.fact_sales`` with
their order's shipping mode and segment and their product's category, ``LINES_SOURCE``) or ``orders`` (one row per
order of ``marts.order_summary``). Filters are bound parameters (``$year`` …), never pasted in.
Order-level KPIs filtered by category count the orders holding at least one line of it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cache

import sqlglot
from sqlglot import exp

from insightflow.errors import UsageError

# The order lines with what the filters and KPIs need, joined once per published snapshot set
# and cached (``LakeReader.materialize``); each KPI then filters and aggregates it.
LINES_SOURCE = """
SELECT f.order_id, f.product_id, f.shipping_date, f.order_quantity, f.gross_sales,
       f.discount_amount, f.net_sales, f.profit, f.order_size_category,
       o.shipping_mode, o.customer_segment, p.product_name, p.category_name, f.product_price
FROM marts.fact_sales AS f
JOIN marts.order_summary AS o ON o.order_id = f.order_id
JOIN curated.product_dim AS p ON p.product_id = f.product_id
"""
#: The filters of every KPI but category, over relation ``{t}`` (the dashboard's drill-down too).
FILTERS = """
    (CAST($year AS INTEGER) IS NULL OR year({t}.shipping_date) = CAST($year AS INTEGER))
    AND (CAST($quarter AS INTEGER) IS NULL OR quarter({t}.shipping_date) = CAST($quarter AS INTEGER))
    AND (CAST($shipping_mode AS VARCHAR) IS NULL OR {t}.shipping_mode = CAST($shipping_mode AS VARCHAR))
    AND (CAST($segment AS VARCHAR) IS NULL OR {t}.customer_segment = CAST($segment AS VARCHAR))
"""
LINES = f"""
lines AS (
    SELECT l.*
    FROM kpi.lines AS l
    WHERE {FILTERS.format(t="l")}
      AND (CAST($category AS VARCHAR) IS NULL OR l.category_name = CAST($category AS VARCHAR))
)"""
ORDERS = f"""
orders AS (
    SELECT o.*
    FROM marts.order_summary AS o
    WHERE {FILTERS.format(t="o")}
      AND (CAST($category AS VARCHAR) IS NULL OR o.order_id IN (
          SELECT order_id FROM kpi.lines WHERE category_name = CAST($category AS VARCHAR)))
)"""


@dataclass(frozen=True)
class KpiFilters:
    """Filters every catalogue KPI accepts; ``None`` means all."""

    year: int | None = None
    quarter: int | None = None
    shipping_mode: str | None = None
    category: str | None = None
    segment: str | None = None

    def __post_init__(self) -> None:
        if self.quarter is not None and not 1 <= self.quarter <= 4:
            raise UsageError(f"quarter must be 1 to 4, not {self.quarter}")
        if self.year is not None and not 1 <= self.year <= 9999:
            raise UsageError(f"year must be 1 to 9999, not {self.year}")

    def params(self) -> dict:
        return asdict(self)

    def active(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class Kpi:
    """One named query of the catalogue."""

    name: str
    title: str
    description: str
    body: str
    uses_lines: bool = False
    uses_orders: bool = False
    takes_top: bool = False

    @property
    def sql(self) -> str:
        ctes = [c for c, used in ((LINES, self.uses_lines), (ORDERS, self.uses_orders)) if used]
        return f"WITH {','.join(ctes)}\n{self.body}"

    def params(self, filters: KpiFilters, top: int = 10) -> dict:
        """The bound parameters of this query: the filters it reads, and ``top`` if it takes one."""
        if not 1 <= top <= 1000:
            raise UsageError(f"top must be 1 to 1000, not {top}")
        values = {**filters.params(), "top": top}
        return {name: values[name] for name in _placeholders(self.sql)}


CATALOGUE: dict[str, Kpi] = {
    kpi.name: kpi
    for kpi in [
        Kpi(
            "summary",
            "KPI summary",
            "Products ordered, gross sales, discount, net sales, net profit, orders placed, "
            "average shipping days, late deliveries and on-time rate by shipping mode.",
            """
SELECT s.*, o.*, m.on_time_rate_by_mode
FROM (SELECT sum(order_quantity) AS products_ordered, sum(gross_sales) AS gross_sales,
             sum(discount_amount) AS discount, sum(net_sales) AS net_sales,
             sum(profit) AS net_profit FROM lines) AS s,
     (SELECT count(*) AS orders_placed, avg(shipping_days) AS avg_shipping_days,
             sum(late_delivery_risk) AS late_deliveries FROM orders) AS o,
     (SELECT map(list(shipping_mode ORDER BY shipping_mode), list(on_time ORDER BY shipping_mode))
             AS on_time_rate_by_mode
      FROM (SELECT shipping_mode, 1 - avg(late_delivery_risk) AS on_time
            FROM orders GROUP BY shipping_mode)) AS m""",
            uses_lines=True,
            uses_orders=True,
        ),
        Kpi(
            "on_time_by_mode",
            "On-time rate and late deliveries by shipping mode",
            "Per shipping mode: orders, late deliveries and on-time rate (1 - mean late risk).",
            """
SELECT shipping_mode, count(*) AS orders, sum(late_delivery_risk) AS late_deliveries,
       1 - avg(late_delivery_risk) AS on_time_rate
FROM orders GROUP BY shipping_mode ORDER BY shipping_mode""",
            uses_orders=True,
        ),
        Kpi(
            "profit_margin_by_category",
            "Profit margin by category",
            "Per product category: net sales, profit and profit margin (profit / net sales).",
            """
SELECT category_name, sum(net_sales) AS net_sales, sum(profit) AS profit,
       sum(profit) / nullif(sum(net_sales), 0) AS profit_margin
FROM lines GROUP BY category_name ORDER BY profit_margin DESC NULLS LAST, category_name""",
            uses_lines=True,
        ),
        Kpi(
            "top_products",
            "Top products by sales",
            "The `top` products (default 10) with the highest gross sales.",
            """
SELECT product_name, category_name, sum(order_quantity) AS products_ordered,
       sum(gross_sales) AS gross_sales, sum(net_sales) AS net_sales, sum(profit) AS profit
FROM lines GROUP BY product_name, category_name
ORDER BY gross_sales DESC, product_name LIMIT $top""",
            uses_lines=True,
            takes_top=True,
        ),
        Kpi(
            "shipping_days_by_month",
            "Average shipping days by month",
            "Per shipping month: orders and average shipping days.",
            """
SELECT CAST(date_trunc('month', shipping_date) AS DATE) AS month, count(*) AS orders,
       avg(shipping_days) AS avg_shipping_days
FROM orders GROUP BY month ORDER BY month""",
            uses_orders=True,
        ),
        Kpi(
            "sales_by_segment",
            "Sales and profit by segment",
            "Per customer segment: orders, gross sales, net sales and profit.",
            """
SELECT customer_segment, count(DISTINCT order_id) AS orders, sum(gross_sales) AS gross_sales,
       sum(net_sales) AS net_sales, sum(profit) AS profit
FROM lines GROUP BY customer_segment ORDER BY customer_segment""",
            uses_lines=True,
        ),
        Kpi(
            "order_size_mix",
            "Order-size mix",
            "Per order size category (Large ≥10 units, Medium 5-9, Small): lines, units, net "
            "sales and share of lines.",
            """
SELECT order_size_category, count(*) AS order_lines, sum(order_quantity) AS products_ordered,
       sum(net_sales) AS net_sales, count(*) / sum(count(*)) OVER () AS share_of_lines
FROM lines GROUP BY order_size_category ORDER BY order_size_category""",
            uses_lines=True,
        ),
    ]
}


def kpi(name: str) -> Kpi:
    """The catalogue entry ``name``, or a ``UsageError`` listing the names."""
    if name not in CATALOGUE:
        raise UsageError(f"no KPI {name!r}; the catalogue has: {', '.join(CATALOGUE)}")
    return CATALOGUE[name]


@cache
def _placeholders(sql: str) -> tuple[str, ...]:
    tree = sqlglot.parse_one(sql, dialect="duckdb")
    return tuple(sorted({node.name for node in tree.find_all(exp.Placeholder)}))
