"""Measure the reference export and write the synthetic generator's parameter file.

Reads the four DataCo CSVs from ``$INSIGHTFLOW_REFERENCE_DATA`` (default
``../shared/data/dataco-split``) and writes ``src/insightflow/generate/params.json``: counts,
frequencies and joint distributions only — no row, name or record of the export is copied.

    python scripts/calibrate_generator.py [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "src" / "insightflow" / "generate" / "params.json"
FILES = {
    "customers": "CustomerDetails.csv",
    "products": "ProductDetails.csv",
    "orders": "OrderDetails.csv",
    "deliveries": "DeliveryDetails.csv",
}


def connect(folder: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for view, file_name in FILES.items():
        path = str(folder / file_name)
        con.execute(
            f"CREATE VIEW {view} AS SELECT * FROM read_csv({_literal(path)}, all_varchar = true, "
            "header = true)"
        )
    return con


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[list]:
    return [list(r) for r in con.execute(sql).fetchall()]


def calibrate(con: duckdb.DuckDBPyConnection) -> dict:
    """Every fact the generator samples from, as plain JSON values."""
    customers = {
        "count": rows(con, "SELECT count(*) FROM customers")[0][0],
        "max_id": rows(con, "SELECT max(CAST(customer_id AS INT)) FROM customers")[0][0],
        # [segment, country, customers]
        "segment_country": rows(
            con,
            "SELECT customer_segment, customer_county, count(*) FROM customers "
            "GROUP BY ALL ORDER BY ALL",
        ),
        # [state, customers, distinct cities, share of the state's biggest city]; the three
        # shifted-column rows (state holds a zip code) are left out.
        "states": rows(
            con,
            """
            WITH by_city AS (
                SELECT customer_state AS state, customer_city AS city, count(*) AS n
                FROM customers WHERE regexp_matches(customer_state, '^[A-Z]{2}$') GROUP BY ALL
            )
            SELECT state, CAST(sum(n) AS INT), count(*), round(max(n) / sum(n), 3)
            FROM by_city GROUP BY state ORDER BY 2 DESC, 1
            """,
        ),
        "shifted_columns": rows(
            con, "SELECT count(*) FROM customers WHERE customer_zipcode IS NULL"
        )[0][0],
        "last_name_in_first_name": rows(
            con, "SELECT count(*) FROM customers WHERE customer_lname IS NULL"
        )[0][0],
        # [orders per customer, customers]
        "orders_per_customer": rows(
            con,
            "SELECT n, count(*) FROM (SELECT order_customer_id, count(DISTINCT order_id) AS n "
            "FROM orders GROUP BY 1) GROUP BY 1 ORDER BY 1",
        ),
    }
    # One entry per product, in catalogue order of category and price; the product's own name
    # and id are not kept. [department_id, department, category_id, category, price, lines,
    # quantity always 1, name has a trailing space]
    catalogue = rows(
        con,
        """
        WITH per_product AS (
            SELECT CAST(p.department_id AS INT) AS department_id, p.department_name,
                   CAST(p.category_id AS INT) AS category_id, p.category_name,
                   round(CAST(any_value(o.product_price) AS DOUBLE), 2) AS price,
                   count(*) AS lines, max(CAST(o.order_quantity AS INT)) = 1 AS single,
                   p.product_name LIKE '% ' AS trailing_space
            FROM products AS p JOIN orders AS o ON o.order_product_id = p.product_id
            GROUP BY p.product_id, p.department_id, p.department_name, p.category_id,
                     p.category_name, p.product_name
        )
        SELECT * FROM per_product ORDER BY category_id, price, lines, single, trailing_space
        """,
    )
    orders = {
        "count": rows(con, "SELECT count(DISTINCT order_id) FROM orders")[0][0],
        "max_id": rows(con, "SELECT max(CAST(order_id AS INT)) FROM orders")[0][0],
        "lines": rows(con, "SELECT count(*) FROM orders")[0][0],
        "lines_per_order": rows(
            con,
            "SELECT n, count(*) FROM (SELECT order_id, count(*) AS n FROM orders GROUP BY 1) "
            "GROUP BY 1 ORDER BY 1",
        ),
        # Quantity of lines whose product sells more than one at a time.
        "quantity_multi": rows(
            con,
            """
            WITH multi AS (
                SELECT order_product_id FROM orders GROUP BY 1
                HAVING max(CAST(order_quantity AS INT)) > 1
            )
            SELECT CAST(order_quantity AS INT), count(*) FROM orders
            WHERE order_product_id IN (SELECT * FROM multi) GROUP BY 1 ORDER BY 1
            """,
        ),
        "discount_rate": rows(
            con,
            "SELECT round(CAST(discount_rate AS DOUBLE), 2), count(*) FROM orders "
            "GROUP BY 1 ORDER BY 1",
        ),
        "profit_ratio": rows(
            con,
            "SELECT round(CAST(profit_ratio AS DOUBLE), 2), count(*) FROM orders "
            "GROUP BY 1 ORDER BY 1",
        ),
        # [payment type, order status, orders]
        "payment_status": rows(
            con,
            "SELECT payment_type, order_status, count(DISTINCT order_id) FROM orders "
            "GROUP BY ALL ORDER BY ALL",
        ),
    }
    deliveries = {
        # [mode, shipping days, delivery status, late delivery risk, orders]
        "mode_days_status_risk": rows(
            con,
            "SELECT shipping_mode, CAST(shipping_days AS INT), delivery_status, "
            "CAST(late_delivery_risk AS INT), count(*) FROM deliveries GROUP BY ALL ORDER BY ALL",
        ),
        # [year, month, orders shipped]
        "ship_month": rows(
            con,
            """
            WITH d AS (SELECT strptime(shipping_date, '%m/%d/%y') AS day FROM deliveries)
            SELECT year(day), month(day), count(*) FROM d GROUP BY ALL ORDER BY ALL
            """,
        ),
    }
    return {
        "source": "DataCo Smart Supply Chain export (CC BY 4.0), measured by "
        "scripts/calibrate_generator.py",
        "customers": customers,
        "catalogue": catalogue,
        "orders": orders,
        "deliveries": deliveries,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    folder = Path(
        os.environ.get("INSIGHTFLOW_REFERENCE_DATA", ROOT.parent / "shared/data/dataco-split")
    )
    params = calibrate(connect(folder))
    text = json.dumps(params, separators=(",", ":"), ensure_ascii=False)
    args.out.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({len(text):,} bytes)")


if __name__ == "__main__":
    main()
