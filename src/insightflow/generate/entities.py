"""Samplers of the four sources: customers, the product catalogue, and orders with deliveries.

Each sampler returns its columns as Arrow string arrays in the contract's header order, plus the
numbers the others need (ids, which customer places which order). Everything is drawn with numpy
from the calibration, a chunk at a time, so that memory stays flat at any scale.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from insightflow.generate.calibration import Calibration
from insightflow.generate.csvtext import float32_text, int_text, labels_text, quoted
from insightflow.generate.vocabulary import (
    BRANDS,
    CITIES,
    FIRST_NAMES,
    LAST_NAMES,
    MODEL_WORDS,
    PRODUCT_SUFFIXES,
)

FIRST_SHIP_DAY = dt.date(2015, 1, 1)
LAST_SHIP_DAY = dt.date(2018, 12, 31)


@dataclass
class Customers:
    ids: np.ndarray
    columns: list[pa.Array]
    quirky: np.ndarray  # rows that carry an export quirk (shifted columns, name in first name)


@dataclass
class Catalogue:
    ids: np.ndarray
    weights: np.ndarray  # share of order lines, corrected for distinct products per order
    single_unit: np.ndarray
    price_text: pa.Array
    prices: np.ndarray
    columns: list[pa.Array]


@dataclass
class OrderChunk:
    """A run of consecutive orders: their lines and their delivery rows, as text columns."""

    order_ids: np.ndarray
    customer_index: np.ndarray  # per order, index into Customers.ids
    line_order: np.ndarray  # per line, index of its order in this chunk
    line_columns: list[pa.Array]
    delivery_columns: list[pa.Array]


def _id_sequence(
    rng: np.random.Generator, count: int, reference_count: int, reference_max: int
) -> np.ndarray:
    """Increasing ids from 1 with gaps as frequent as the reference's (max id / count)."""
    gap_rate = max(reference_max - reference_count, 0) / reference_count
    steps = 1 + rng.poisson(gap_rate, count)
    steps[0] = 1
    return np.cumsum(steps, dtype=np.int64)


def sample_customers(rng: np.random.Generator, cal: Calibration, count: int) -> Customers:
    ids = _id_sequence(rng, count, cal.customers, cal.customer_max_id)
    segment_country = cal.segment_country.quota(rng, count)
    segments = [sc[0] for sc in cal.segment_country.values]
    countries = [sc[1] for sc in cal.segment_country.values]
    in_puerto_rico = np.asarray(countries)[segment_country] == "Puerto Rico"

    city_index = np.empty(count, dtype=np.int64)
    zips = np.array([int(z) for _, _, z in CITIES], dtype=np.int64)
    state_of_city = np.array([s for _, s, _ in CITIES])
    us_state = np.asarray(cal.us_states.values)[cal.us_states.sample(rng, count)]
    state = np.where(in_puerto_rico, "PR", us_state)
    for code in np.unique(state):
        rows = np.flatnonzero(state == code)
        cities = np.flatnonzero(state_of_city == code)
        if len(cities) == 0:  # a state of the calibration that the city list lacks
            cities = np.flatnonzero(state_of_city == "CA")
        top = min(max(cal.top_city_share.get(str(code), 0.5), 0.0), 1.0)
        weights = np.full(len(cities), (1 - top) / max(len(cities) - 1, 1))
        weights[0] = top if len(cities) > 1 else 1.0
        city_index[rows] = cities[
            np.searchsorted(np.cumsum(weights / weights.sum()), rng.random(len(rows))).clip(
                0, len(cities) - 1
            )
        ]
    # A few zip codes per city; the export dropped their leading zeros (00725 -> 725).
    zip_codes = zips[city_index] + np.where(in_puerto_rico, 0, rng.integers(0, 3, count))

    first = rng.integers(0, len(FIRST_NAMES), count)
    last = rng.integers(0, len(LAST_NAMES), count)
    city_names = [c for c, _, _ in CITIES]
    state_labels, state_code = np.unique(state, return_inverse=True)
    columns = {
        "CUSTOMER_ID": int_text(ids),
        "CUSTOMER_FNAME": labels_text(FIRST_NAMES, first),
        "CUSTOMER_LNAME": labels_text(LAST_NAMES, last),
        "CUSTOMER_SEGMENT": labels_text(segments, segment_country),
        "CUSTOMER_CITY": quoted(labels_text(city_names, city_index)),
        "CUSTOMER_STATE": labels_text(state_labels.tolist(), state_code),
        "CUSTOMER_COUNTY": labels_text(countries, segment_country),
        "CUSTOMER_ZIPCODE": int_text(zip_codes),
    }
    quirky = _customer_quirks(rng, cal, count, columns, state, zip_codes, in_puerto_rico, last)
    order = [
        "CUSTOMER_ID",
        "CUSTOMER_FNAME",
        "CUSTOMER_LNAME",
        "CUSTOMER_SEGMENT",
        "CUSTOMER_CITY",
        "CUSTOMER_STATE",
        "CUSTOMER_COUNTY",
        "CUSTOMER_ZIPCODE",
    ]
    return Customers(ids=ids, columns=[columns[name] for name in order], quirky=quirky)


def _customer_quirks(
    rng: np.random.Generator,
    cal: Calibration,
    count: int,
    columns: dict[str, pa.Array],
    state: np.ndarray,
    zip_codes: np.ndarray,
    in_puerto_rico: np.ndarray,
    last: np.ndarray,
) -> np.ndarray:
    """The export's rare broken customers, at its rate: shifted columns, last name as first name."""
    shifted_count = round(cal.shifted_columns / cal.customers * count)
    named_count = round(cal.last_name_in_first_name / cal.customers * count)
    us_rows = np.flatnonzero(~in_puerto_rico)
    shifted = np.sort(rng.choice(us_rows, min(shifted_count, len(us_rows)), replace=False))
    rest = np.setdiff1d(np.arange(count), shifted)
    named = np.sort(rng.choice(rest, min(named_count, len(rest)), replace=False))
    quirky = np.zeros(count, dtype=bool)
    quirky[shifted] = quirky[named] = True
    if len(shifted):
        # City holds the state, state holds the zip code, zip code is empty.
        columns["CUSTOMER_CITY"] = _replace(
            columns["CUSTOMER_CITY"], shifted, state[shifted].tolist()
        )
        columns["CUSTOMER_STATE"] = _replace(
            columns["CUSTOMER_STATE"], shifted, [str(z) for z in zip_codes[shifted]]
        )
        columns["CUSTOMER_ZIPCODE"] = _replace(
            columns["CUSTOMER_ZIPCODE"], shifted, [""] * len(shifted)
        )
    if len(named):
        columns["CUSTOMER_FNAME"] = _replace(
            columns["CUSTOMER_FNAME"], named, [LAST_NAMES[i] for i in last[named]]
        )
        columns["CUSTOMER_LNAME"] = _replace(columns["CUSTOMER_LNAME"], named, [""] * len(named))
    return quirky


def _replace(values: pa.Array, rows: np.ndarray, new: list[str]) -> pa.Array:
    """``values`` with ``values[rows] = new`` (``rows`` ascending)."""
    mask = np.zeros(len(values), dtype=bool)
    mask[rows] = True
    return pc.replace_with_mask(values, pa.array(mask), pa.array(new, pa.string()))


def sample_catalogue(rng: np.random.Generator, cal: Calibration) -> Catalogue:
    """The product catalogue: the reference's departments, categories and price points.

    The catalogue has as many products as the reference at every scale; only names and ids are
    invented (brand-like words and the category label).
    """
    products = cal.catalogue
    count = len(products)
    ids = np.sort(rng.choice(np.arange(2, 1400), count, replace=False)).astype(np.int64)
    names: list[str] = []
    taken: set[str] = set()
    for product in products:
        while True:
            brand = BRANDS[rng.integers(len(BRANDS))]
            model = MODEL_WORDS[rng.integers(len(MODEL_WORDS))]
            suffix = PRODUCT_SUFFIXES[rng.integers(len(PRODUCT_SUFFIXES))]
            name = " ".join(w for w in (brand, model, product.category.strip(), suffix) if w)
            if name not in taken:
                break
        taken.add(name)
        names.append(name + " " if product.trailing_space else name)
    prices = np.array([p.price for p in products])
    price_text = float32_text(prices)
    file_order = rng.permutation(count)
    columns = [
        int_text(ids[file_order]),
        quoted(pa.array([names[i] for i in file_order], pa.string())),
        int_text(np.array([products[i].department_id for i in file_order])),
        quoted(pa.array([products[i].department for i in file_order], pa.string())),
        int_text(np.array([products[i].category_id for i in file_order])),
        quoted(pa.array([products[i].category for i in file_order], pa.string())),
    ]
    lines = np.array([p.lines for p in products], dtype=np.float64)
    return Catalogue(
        ids=ids,
        weights=_distinct_corrected_weights(cal, lines / lines.sum()),
        single_unit=np.array([p.single_unit for p in products]),
        price_text=price_text,
        prices=prices,
        columns=columns,
    )


def _distinct_corrected_weights(cal: Calibration, target: np.ndarray) -> np.ndarray:
    """Sampling weights whose realised line shares match ``target`` once products are distinct
    within an order (redrawing duplicates lowers the share of the most popular products)."""
    rng = np.random.default_rng(0)  # fixed: the correction is part of the calibration
    weights = target.copy()
    orders = 40_000
    line_order = np.repeat(np.arange(orders), 1 + cal.lines_per_order.sample(rng, orders))
    for _ in range(4):
        realised = np.bincount(_distinct_products(rng, line_order, weights), minlength=len(target))
        weights = weights * target / np.maximum(realised / realised.sum(), 1e-12)
        weights /= weights.sum()
    return weights


def _distinct_products(
    rng: np.random.Generator, line_order: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """A product per line, drawn by weight, distinct within each order."""
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    products = np.searchsorted(cdf, rng.random(len(line_order)), side="right").clip(
        0, len(weights) - 1
    )
    for _ in range(100):
        key = line_order * len(weights) + products
        order = np.argsort(key, kind="stable")
        repeated = order[1:][key[order][1:] == key[order][:-1]]
        if len(repeated) == 0:
            break
        products[repeated] = np.searchsorted(cdf, rng.random(len(repeated)), side="right").clip(
            0, len(weights) - 1
        )
    return products


class OrderSampler:
    """Draws orders chunk by chunk: their lines (OrderDetails) and deliveries (DeliveryDetails)."""

    def __init__(
        self, rng: np.random.Generator, cal: Calibration, catalogue: Catalogue, customers: Customers
    ) -> None:
        self.rng, self.cal, self.catalogue, self.customer_ids = rng, cal, catalogue, customers.ids
        # Each customer places as many orders as the reference's customers do, in random order.
        per_customer = 1 + cal.orders_per_customer.quota(rng, len(customers.ids))
        self.customer_of_order = rng.permutation(
            np.repeat(np.arange(len(customers.ids)), per_customer)
        )
        self.order_ids = _id_sequence(
            rng, len(self.customer_of_order), cal.orders, cal.order_max_id
        )
        self.rate_text = float32_text(np.array(cal.discount_rate.values))
        self.profit_text = float32_text(np.array(cal.profit_ratio.values))
        payment_status = cal.payment_status.values
        self.payments = sorted({p for p, _ in payment_status})
        self.statuses = sorted({s for _, s in payment_status})
        self.payment_code = np.array([self.payments.index(p) for p, _ in payment_status])
        self.status_code = np.array([self.statuses.index(s) for _, s in payment_status])
        delivery = cal.delivery.values
        self.modes = sorted({d[0] for d in delivery})
        self.delivery_statuses = sorted({d[2] for d in delivery})
        self.mode_code = np.array([self.modes.index(d[0]) for d in delivery])
        self.days = np.array([d[1] for d in delivery], dtype=np.int64)
        self.delivery_status_code = np.array([self.delivery_statuses.index(d[2]) for d in delivery])
        self.risk = np.array([d[3] for d in delivery], dtype=np.int64)
        days = (LAST_SHIP_DAY - FIRST_SHIP_DAY).days + 1
        dates = [FIRST_SHIP_DAY + dt.timedelta(days=i) for i in range(days)]
        # M/d/yy without zero padding, as the export writes it (4/8/15).
        self.date_text = [f"{d.month}/{d.day}/{d.year % 100:02d}" for d in dates]
        month_starts = [(dt.date(y, m, 1) - FIRST_SHIP_DAY).days for y, m in cal.ship_month.values]
        self.month_start = np.array(month_starts, dtype=np.int64)
        self.month_days = np.array(
            [_days_in_month(y, m) for y, m in cal.ship_month.values], dtype=np.int64
        )

    @property
    def orders(self) -> int:
        return len(self.order_ids)

    def chunk(self, start: int, stop: int) -> OrderChunk:
        rng, cal, catalogue = self.rng, self.cal, self.catalogue
        n = stop - start
        order_ids = self.order_ids[start:stop]
        customer_index = self.customer_of_order[start:stop]
        lines_per_order = 1 + cal.lines_per_order.quota(rng, n)
        line_order = np.repeat(np.arange(n), lines_per_order)
        lines = len(line_order)
        product = _distinct_products(rng, line_order, catalogue.weights)
        quantity = np.where(
            catalogue.single_unit[product], 1, 1 + cal.quantity_multi.sample(rng, lines)
        )
        rate_index = cal.discount_rate.sample(rng, lines)
        rates = np.asarray(cal.discount_rate.values)[rate_index]
        # DISCOUNT_PERCENTAGE is a dollar amount: price x quantity x rate, to the cent.
        discount = np.round(catalogue.prices[product] * quantity * rates, 2)
        profit_index = cal.profit_ratio.sample(rng, lines)
        payment_status = cal.payment_status.sample(rng, n)[line_order]
        line_columns = [
            int_text(self.customer_ids[customer_index][line_order]),
            int_text(order_ids[line_order]),
            int_text(catalogue.ids[product]),
            int_text(quantity),
            float32_text(discount),
            _take(self.rate_text, rate_index),
            _take(self.profit_text, profit_index),
            labels_text(self.payments, self.payment_code[payment_status]),
            labels_text(self.statuses, self.status_code[payment_status]),
            _take(catalogue.price_text, product),
        ]
        delivery = cal.delivery.sample(rng, n)
        month = cal.ship_month.sample(rng, n)
        day = self.month_start[month] + (rng.random(n) * self.month_days[month]).astype(np.int64)
        delivery_columns = [
            int_text(order_ids),
            int_text(self.days[delivery]),
            labels_text(self.delivery_statuses, self.delivery_status_code[delivery]),
            int_text(self.risk[delivery]),
            labels_text(self.date_text, day),
            labels_text(self.modes, self.mode_code[delivery]),
        ]
        return OrderChunk(order_ids, customer_index, line_order, line_columns, delivery_columns)


def _take(values: pa.Array, indices: np.ndarray) -> pa.Array:
    return values.take(pa.array(np.asarray(indices, dtype=np.int64)))


def _days_in_month(year: int, month: int) -> int:
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return (following - dt.date(year, month, 1)).days
