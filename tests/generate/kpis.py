"""Reference figures of the DataCo export (docs/DATA.md) and the same KPIs on generated CSVs."""

from __future__ import annotations

from pathlib import Path

import duckdb

# Measured on the reference export (docs/DATA.md, "Reference figures").
REFERENCE = {
    "products_ordered": 334_107,
    "gross_sales": 32_314_681.23,
    "orders_placed": 65_752,
    "late_share": 33_423 / 65_752,
    "avg_shipping_days": 3.93,
    "on_time_First Class": 0.462,
    "on_time_Same Day": 0.497,
    "on_time_Second Class": 0.464,
    "on_time_Standard Class": 0.533,
}
# Customer segment shares and order-line shares of the biggest categories (reference counts).
REFERENCE_SEGMENTS = {
    "Consumer": 10_695 / 20_652,
    "Corporate": 6_239 / 20_652,
    "Home Office": 3_718 / 20_652,
}
REFERENCE_CATEGORIES = {
    "Cleats": 20_394 / 159_763,
    "Men's Footwear": 18_783 / 159_763,
    "Women's Apparel": 17_869 / 159_763,
    "Indoor/Outdoor Games": 16_623 / 159_763,
    "Fishing": 15_164 / 159_763,
    "Water Sports": 13_767 / 159_763,
    "Camping & Hiking": 12_299 / 159_763,
    "Cardio Equipment": 11_410 / 159_763,
    "Shop By Sport": 10_191 / 159_763,
}


def _connect(folder: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for view, name in [
        ("c", "CustomerDetails"),
        ("p", "ProductDetails"),
        ("o", "OrderDetails"),
        ("d", "DeliveryDetails"),
    ]:
        path = str(folder / f"{name}.csv").replace("'", "''")
        con.execute(f"CREATE VIEW {view} AS SELECT * FROM read_csv('{path}', header = true)")
    return con


def measured_kpis(folder: Path) -> dict[str, float]:
    con = _connect(folder)
    products, gross = con.execute(
        "SELECT sum(order_quantity), sum(product_price * order_quantity) FROM o"
    ).fetchone()
    orders, late, days = con.execute(
        "SELECT count(*), sum(late_delivery_risk), avg(shipping_days) FROM d"
    ).fetchone()
    kpis = {
        "products_ordered": products,
        "gross_sales": gross,
        "orders_placed": orders,
        "late_share": late / orders,
        "avg_shipping_days": days,
    }
    for mode, on_time in con.execute(
        "SELECT shipping_mode, 1 - avg(late_delivery_risk) FROM d GROUP BY 1"
    ).fetchall():
        kpis[f"on_time_{mode}"] = on_time
    return kpis


def segment_shares(folder: Path) -> dict[str, float]:
    rows = (
        _connect(folder)
        .execute("SELECT customer_segment, count(*) / sum(count(*)) OVER () FROM c GROUP BY 1")
        .fetchall()
    )
    return dict(rows)


def category_shares(folder: Path) -> dict[str, float]:
    rows = (
        _connect(folder)
        .execute(
            """
        SELECT trim(p.category_name), count(*) / sum(count(*)) OVER ()
        FROM o JOIN p ON p.product_id = o.order_product_id GROUP BY 1
        """
        )
        .fetchall()
    )
    return dict(rows)
