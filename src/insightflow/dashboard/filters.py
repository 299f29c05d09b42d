"""The dashboard's filters and the URL query string that keeps them (so a view can be shared).

The query parameters are named like those of ``GET /kpis`` of the HTTP API: ``year``, ``quarter``,
``shipping_mode``, ``category``, ``segment``. A value the data does not hold is dropped with a note
rather than failing the page. The drill-down's selection follows them as ``drill_category`` and
``drill_product``.
"""

from __future__ import annotations

from collections.abc import Mapping

from insightflow.dashboard.data import FilterOptions
from insightflow.query import KpiFilters

NAMES = ("year", "quarter", "shipping_mode", "category", "segment")
LABELS = {
    "year": "Year",
    "quarter": "Quarter",
    "shipping_mode": "Shipping mode",
    "category": "Product category",
    "segment": "Customer segment",
}
ALL = "All"
DRILL = ("drill_category", "drill_product")


def choices(options: FilterOptions) -> dict[str, list]:
    """The values of each filter's select box (``All`` first)."""
    return {
        "year": [ALL, *options.years],
        "quarter": [ALL, *options.quarters],
        "shipping_mode": [ALL, *options.shipping_modes],
        "category": [ALL, *options.categories],
        "segment": [ALL, *options.segments],
    }


def from_query(params: Mapping[str, str], options: FilterOptions) -> tuple[KpiFilters, list[str]]:
    """The filters a URL asks for, and a note for each value that is not in the data."""
    allowed = choices(options)
    values: dict = {}
    notes = []
    for name in NAMES:
        raw = params.get(name)
        if raw in (None, "", ALL):
            continue
        value = _typed(name, raw)
        if value in allowed[name]:
            values[name] = value
        else:
            notes.append(f"{LABELS[name].lower()} {raw!r} is not in the data; showing all")
    return KpiFilters(**values), notes


def to_query(filters: KpiFilters, drill: Mapping[str, str] | None = None) -> dict[str, str]:
    """The query string of ``filters`` (only the active ones), then the drill-down's selection."""
    return {name: str(value) for name, value in filters.active().items()} | {
        name: drill[name] for name in DRILL if drill and drill.get(name)
    }


def describe(filters: KpiFilters) -> str:
    """``2017 · Q3 · Standard Class`` or ``all data``."""
    parts = []
    for name, value in filters.active().items():
        parts.append(f"Q{value}" if name == "quarter" else str(value))
    return " · ".join(parts) or "all data"


def _typed(name: str, raw: str):
    if name in ("year", "quarter"):
        try:
            return int(raw)
        except ValueError:
            return raw
    return raw
