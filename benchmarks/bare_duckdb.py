"""The floor: the same star schema in bare DuckDB — read the 4 CSVs, build dims and fact, write Parquet.

No lineage, no quarantine, no checks, no catalog: what any pipeline on DuckDB must at least do.
Run as a script it prints its wall time: ``python benchmarks/bare_duckdb.py SOURCE_DIR OUT_DIR``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import duckdb

STATEMENTS = """
CREATE TABLE customer_dim AS
SELECT CUSTOMER_ID AS customer_id, CUSTOMER_FNAME AS customer_fname, CUSTOMER_LNAME AS customer_lname,
       CUSTOMER_SEGMENT AS customer_segment,
       CASE CUSTOMER_SEGMENT WHEN 'Corporate' THEN 'High Value' WHEN 'Consumer' THEN 'Regular Value'
            ELSE 'Low Value' END AS customer_category,
       CUSTOMER_CITY AS customer_city, CUSTOMER_STATE AS customer_state,
       CUSTOMER_COUNTY AS customer_country, lpad(CAST(CUSTOMER_ZIPCODE AS VARCHAR), 5, '0') AS customer_zipcode
FROM read_csv('{src}/CustomerDetails.csv', types = {{'CUSTOMER_ZIPCODE': 'VARCHAR'}});
CREATE TABLE product_dim AS
SELECT PRODUCT_ID AS product_id, regexp_replace(trim(PRODUCT_NAME), '\\s+', ' ', 'g') AS product_name,
       DEPARTMENT_NAME AS department_name, CATEGORY_NAME AS category_name,
       CASE WHEN trim(DEPARTMENT_NAME) = 'Electronics' THEN 'High Priority' ELSE 'Regular Priority' END
           AS product_priority
FROM read_csv('{src}/ProductDetails.csv');
CREATE TABLE order_dim AS
SELECT md5(concat_ws('|', ORDER_ID, ORDER_PRODUCT_ID)) AS order_line_key, ORDER_ID AS order_id,
       lpad(CAST(ORDER_ID AS VARCHAR), 10, '0') AS order_code, ORDER_CUSTOMER_ID AS customer_id,
       ORDER_PRODUCT_ID AS product_id, ORDER_QUANTITY AS order_quantity, PRODUCT_PRICE AS product_price,
       DISCOUNT_RATE AS discount_rate, DISCOUNT_PERCENTAGE AS discount_amount, PROFIT_RATIO AS profit_ratio,
       PAYMENT_TYPE AS payment_type, ORDER_STATUS AS order_status
FROM read_csv('{src}/OrderDetails.csv');
CREATE TABLE delivery_dim AS
SELECT ORDER_ID AS order_id, CAST(strptime(SHIPPING_DATE, '%m/%d/%y') AS DATE) AS shipping_date,
       SHIPPING_MODE AS shipping_mode, SHIPPING_DAYS AS shipping_days,
       CASE WHEN SHIPPING_DAYS <= 2 THEN 'Fast' WHEN SHIPPING_DAYS <= 5 THEN 'Standard' ELSE 'Slow' END
           AS delivery_category,
       DELIVERY_STATUS AS delivery_status, LATE_DELIVERY_RISK AS late_delivery_risk
FROM read_csv('{src}/DeliveryDetails.csv', types = {{'SHIPPING_DATE': 'VARCHAR'}});
CREATE TABLE fact_sales AS
SELECT o.order_line_key AS sales_key, o.order_id, o.customer_id, o.product_id, d.shipping_date,
       o.order_quantity, o.product_price, o.product_price * o.order_quantity AS gross_sales,
       o.discount_amount, o.product_price * o.order_quantity - o.discount_amount AS net_sales,
       (o.product_price * o.order_quantity - o.discount_amount) * o.profit_ratio AS profit,
       CASE WHEN o.order_quantity >= 10 THEN 'Large' WHEN o.order_quantity >= 5 THEN 'Medium'
            ELSE 'Small' END AS order_size_category
FROM order_dim o JOIN delivery_dim d USING (order_id);
"""
TABLES = ("customer_dim", "product_dim", "order_dim", "delivery_dim", "fact_sales")


def bare_duckdb(source: Path, out: Path) -> float:
    """Build the star schema from ``source`` into Parquet files in ``out``; returns seconds."""
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    con = duckdb.connect()
    con.execute(STATEMENTS.format(src=str(source).replace("'", "''")))
    for table in TABLES:
        con.execute(f"COPY {table} TO '{out / table}.parquet' (FORMAT parquet, COMPRESSION zstd)")
    con.close()
    return time.perf_counter() - started


if __name__ == "__main__":
    print(f"{bare_duckdb(Path(sys.argv[1]), Path(sys.argv[2])):.3f} s")
