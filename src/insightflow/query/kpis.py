"""The KPI summary the original dashboard showed, computed from the published marts."""

from __future__ import annotations

from insightflow.query.reader import LakeReader

KPI_KEYS = (
    "products_ordered",
    "gross_sales",
    "discount",
    "net_sales",
    "net_profit",
    "orders_placed",
    "avg_shipping_days",
    "late_deliveries",
    "on_time_rate_by_mode",
)

# Line-level money and quantities come from fact_sales; per-order delivery figures from
# order_summary, so that an order with five lines counts once.
_SALES = """
SELECT
    sum(order_quantity) AS products_ordered,
    sum(gross_sales) AS gross_sales,
    sum(discount_amount) AS discount,
    sum(net_sales) AS net_sales,
    sum(profit) AS net_profit
FROM marts.fact_sales
"""
_ORDERS = """
SELECT
    count(*) AS orders_placed,
    avg(shipping_days) AS avg_shipping_days,
    sum(late_delivery_risk) AS late_deliveries
FROM marts.order_summary
"""
_ON_TIME = """
SELECT shipping_mode, 1 - avg(late_delivery_risk) AS on_time_rate
FROM marts.order_summary
GROUP BY shipping_mode
ORDER BY shipping_mode
"""


def kpi_summary(reader: LakeReader) -> dict:
    """The KPI figures, rounded for display (money to cents, days to 2 decimals, rates to 6)."""
    names, rows = reader.query(_SALES)
    sales = dict(zip(names, rows[0], strict=True))
    names, rows = reader.query(_ORDERS)
    orders = dict(zip(names, rows[0], strict=True))
    _, on_time = reader.query(_ON_TIME)
    return {
        "products_ordered": int(sales["products_ordered"] or 0),
        "gross_sales": round(sales["gross_sales"] or 0.0, 2),
        "discount": round(sales["discount"] or 0.0, 2),
        "net_sales": round(sales["net_sales"] or 0.0, 2),
        "net_profit": round(sales["net_profit"] or 0.0, 2),
        "orders_placed": int(orders["orders_placed"] or 0),
        "avg_shipping_days": round(orders["avg_shipping_days"] or 0.0, 2),
        "late_deliveries": int(orders["late_deliveries"] or 0),
        "on_time_rate_by_mode": {mode: round(rate, 6) for mode, rate in on_time},
    }
