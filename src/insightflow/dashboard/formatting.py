"""How the dashboard writes numbers: like the original Tableau dashboard ($32,314,681.23; 334,107)."""

from __future__ import annotations


def money(value: float | None) -> str:
    """Dollars with thousands separators and cents: ``$32,314,681.23`` (``-$12.50`` below zero)."""
    value = float(value or 0.0)
    return f"-${-value:,.2f}" if value < 0 else f"${value:,.2f}"


def count(value: float | None) -> str:
    """A whole number with thousands separators: ``334,107``."""
    return f"{int(value or 0):,}"


def percent(value: float | None, digits: int = 1) -> str:
    """A fraction as a percentage: ``0.4624`` → ``46.2%``."""
    return f"{float(value or 0.0) * 100:.{digits}f}%"


def days(value: float | None) -> str:
    """Average shipping days, two decimals as in ``insightflow kpis``: ``3.93 days``."""
    return f"{float(value or 0.0):.2f} days"


def rows(value: int) -> str:
    """A row count for the freshness line: ``159,763 rows``."""
    return f"{value:,} row{'s' if value != 1 else ''}"
