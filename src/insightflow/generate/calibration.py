"""The generator's calibration: distributions measured on the reference export (``params.json``).

``scripts/calibrate_generator.py`` writes the file from the reference data; this module turns it
into the arrays the samplers draw from. Only counts and frequencies are stored, never a row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np


@dataclass(frozen=True)
class Distribution:
    """A discrete distribution: ``values[i]`` has probability ``p[i]``."""

    values: tuple
    p: np.ndarray

    @classmethod
    def from_counts(cls, pairs: list[list]) -> Distribution:
        counts = np.array([pair[-1] for pair in pairs], dtype=np.float64)
        values = tuple(pair[0] if len(pair) == 2 else tuple(pair[:-1]) for pair in pairs)
        return cls(values, counts / counts.sum())

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Indices into ``values``."""
        return np.searchsorted(np.cumsum(self.p), rng.random(size), side="right").clip(
            0, len(self.values) - 1
        )

    def quota(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Indices with each value's count as close to ``p * size`` as integers allow, shuffled:
        the totals of a small draw match the calibration instead of scattering around it."""
        expected = self.p * size
        counts = np.floor(expected).astype(np.int64)
        short = size - int(counts.sum())
        counts[np.argsort(-(expected - counts), kind="stable")[:short]] += 1
        return rng.permutation(np.repeat(np.arange(len(self.values)), counts))

    def mean(self) -> float:
        return float(np.dot(np.asarray(self.values, dtype=np.float64), self.p))


@dataclass(frozen=True)
class Product:
    """One catalogue entry: its department, category, price and share of order lines."""

    department_id: int
    department: str
    category_id: int
    category: str
    price: float
    lines: int
    single_unit: bool
    trailing_space: bool


@dataclass(frozen=True)
class Calibration:
    customers: int
    customer_max_id: int
    segment_country: Distribution  # values: (segment, country)
    us_states: Distribution  # values: state code (Puerto Rico excluded: its customers are in PR)
    top_city_share: dict[str, float]
    shifted_columns: int
    last_name_in_first_name: int
    orders_per_customer: Distribution
    catalogue: tuple[Product, ...]
    orders: int
    order_max_id: int
    order_lines: int
    lines_per_order: Distribution
    quantity_multi: Distribution
    discount_rate: Distribution
    profit_ratio: Distribution
    payment_status: Distribution  # values: (payment type, order status)
    delivery: Distribution  # values: (mode, shipping days, delivery status, late delivery risk)
    ship_month: Distribution  # values: (year, month)


@cache
def load_calibration() -> Calibration:
    text = resources.files("insightflow.generate").joinpath("params.json").read_text("utf-8")
    params = json.loads(text)
    customers, orders, deliveries = params["customers"], params["orders"], params["deliveries"]
    states = [s for s in customers["states"] if s[0] != "PR"]
    return Calibration(
        customers=customers["count"],
        customer_max_id=customers["max_id"],
        segment_country=Distribution.from_counts(customers["segment_country"]),
        us_states=Distribution.from_counts([[s[0], s[1]] for s in states]),
        top_city_share={s[0]: s[3] for s in customers["states"]},
        shifted_columns=customers["shifted_columns"],
        last_name_in_first_name=customers["last_name_in_first_name"],
        orders_per_customer=Distribution.from_counts(customers["orders_per_customer"]),
        catalogue=tuple(Product(*entry) for entry in params["catalogue"]),
        orders=orders["count"],
        order_max_id=orders["max_id"],
        order_lines=orders["lines"],
        lines_per_order=Distribution.from_counts(orders["lines_per_order"]),
        quantity_multi=Distribution.from_counts(orders["quantity_multi"]),
        discount_rate=Distribution.from_counts(orders["discount_rate"]),
        profit_ratio=Distribution.from_counts(orders["profit_ratio"]),
        payment_status=Distribution.from_counts(orders["payment_status"]),
        delivery=Distribution.from_counts(deliveries["mode_days_status_risk"]),
        ship_month=Distribution.from_counts(deliveries["ship_month"]),
    )
