"""The KPI summary the original dashboard showed, and the other catalogue KPIs, as figures."""

from __future__ import annotations

from insightflow.query.catalogue import LINES_SOURCE, KpiFilters, kpi
from insightflow.query.reader import LakeReader, QueryResult
from insightflow.query.sandbox import Limits

# Catalogue KPIs return a few hundred rows at most; the bound is there for safety.
_KPI_LIMITS = Limits(max_rows=100_000, timeout_seconds=60.0, max_bytes=2**62)

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


def run_kpi(reader: LakeReader, name: str, filters: KpiFilters | None = None, top: int = 10) -> QueryResult:
    """Run catalogue KPI ``name`` with ``filters`` bound as parameters."""
    entry = kpi(name)
    relations = {"kpi.lines": reader.materialize(LINES_SOURCE)}
    return reader.run(entry.sql, params=entry.params(filters or KpiFilters(), top), check=False,
                      limits=_KPI_LIMITS, relations=relations)


def kpi_summary(reader: LakeReader, filters: KpiFilters | None = None) -> dict:
    """The KPI figures, rounded for display (money to cents, days to 2 decimals, rates to 6)."""
    result = run_kpi(reader, "summary", filters)
    figures = dict(zip(result.columns, result.rows[0], strict=True))
    on_time = figures["on_time_rate_by_mode"] or {}
    return {
        "products_ordered": int(figures["products_ordered"] or 0),
        "gross_sales": round(figures["gross_sales"] or 0.0, 2),
        "discount": round(figures["discount"] or 0.0, 2),
        "net_sales": round(figures["net_sales"] or 0.0, 2),
        "net_profit": round(figures["net_profit"] or 0.0, 2),
        "orders_placed": int(figures["orders_placed"] or 0),
        "avg_shipping_days": round(figures["avg_shipping_days"] or 0.0, 2),
        "late_deliveries": int(figures["late_deliveries"] or 0),
        "on_time_rate_by_mode": {mode: round(rate, 6) for mode, rate in dict(on_time).items()},
    }

