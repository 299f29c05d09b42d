"""The KPI summary the original dashboard showed, and the other catalogue KPIs, as figures."""

from __future__ import annotations

from insightflow.query.catalogue import LINES_SOURCE, KpiFilters, kpi
from insightflow.query.reader import LakeReader, QueryResult
from insightflow.query.sandbox import Limits

# Catalogue KPIs return a few hundred rows at most; the bound is there for safety.
_KPI_LIMITS = Limits(max_rows=100_000, timeout_seconds=60.0, max_bytes=2**62)

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



#: The filters whose values must be in the data: (field of KpiFilters, what a user calls it, the
#: SQL of its values over ``kpi.lines``).
_VALUED = (
    ("year", "year", "SELECT DISTINCT CAST(year(shipping_date) AS INTEGER) FROM kpi.lines"),
    ("shipping_mode", "shipping mode", "SELECT DISTINCT shipping_mode FROM kpi.lines"),
    ("category", "category", "SELECT DISTINCT category_name FROM kpi.lines"),
    ("segment", "segment", "SELECT DISTINCT customer_segment FROM kpi.lines"),
)
_PLURAL = {"year": "years", "shipping mode": "shipping modes", "category": "categories", "segment": "segments"}


def filter_values(reader: LakeReader) -> dict[str, list]:
    """The values each filter can take in the published data (years, modes, categories, segments)."""
    relations = {"kpi.lines": reader.materialize(LINES_SOURCE)}
    values = {}
    for name, _, sql in _VALUED:
        rows = reader.run(sql, check=False, limits=_KPI_LIMITS, relations=relations).rows
        values[name] = sorted(v for (v,) in rows if v is not None)
    return values


def checked_filters(filters: KpiFilters, values: dict[str, list]) -> KpiFilters:
    """``filters`` with each value matched to the data's spelling (case and spaces aside), or a
    ``UsageError`` naming the closest values: a filter that matches nothing would report zeros."""
    import dataclasses
    import difflib

    from insightflow.errors import UsageError

    changes = {}
    for name, label, _ in _VALUED:
        wanted = getattr(filters, name)
        if wanted is None:
            continue
        known = values[name]
        if wanted in known:
            continue
        if isinstance(wanted, str):
            folded = {" ".join(v.split()).casefold(): v for v in known}
            match = folded.get(" ".join(wanted.split()).casefold())
            if match is not None:
                changes[name] = match
                continue
            close = difflib.get_close_matches(wanted.casefold(), list(folded), n=3, cutoff=0.6)
            hint = f"; did you mean {' or '.join(repr(folded[c]) for c in close)}?" if close else ""
            listed = ", ".join(map(str, known[:12])) + (f", … ({len(known) - 12} more)" if len(known) > 12 else "")
            raise UsageError(f"no {label} {wanted!r} in the published data{hint} (the {_PLURAL[label]}: {listed})")
        span = f"{known[0]} to {known[-1]}" if known else "none"
        raise UsageError(f"no {label} {wanted!r} in the published data (the years: {span})")
    return dataclasses.replace(filters, **changes) if changes else filters
