/* ---
table: marts.order_summary
grain: one row per order, with its delivery and its customer's segment
kind: incremental_by_unique_key
key: [order_id]
# rebuilt for the orders whose lines, delivery or customer changed
driver: marts.fact_sales
lookups:
  curated.delivery_dim: [order_id]
  curated.customer_dim: [customer_id]
columns:
  order_id: the order
  customer_id: the order's customer (curated.customer_dim)
  customer_segment: the customer's segment
  shipping_date: the day the order shipped
  shipping_mode: Standard Class, Second Class, First Class or Same Day
  shipping_days: days from order to delivery
  delivery_status: the delivery's status
  late_delivery_risk: 1 if the delivery was late, else 0
  order_lines: lines of the order
  order_quantity: units ordered, all lines
  gross_sales: gross sales of all lines, summed exactly
  discount_amount: discount of all lines
  net_sales: net sales of all lines
  profit: profit of all lines
indexes:
  - [shipping_date]
  - [shipping_mode]
  - [customer_segment]
checks:
  - {check: unique, columns: [order_id]}
  - {check: not_null, columns: [order_id, shipping_date, shipping_mode, late_delivery_risk]}
  - {check: volume, max_change: 0.5, severity: warn}
--- */
-- Per-order figures (orders placed, late deliveries, average shipping days, on-time rate by
-- mode) are averages over orders, not over order lines: an order with 5 lines counts once.
-- Lines are summed per order first, then joined to their delivery and customer: one join probe
-- per order instead of per line (every line of an order has the order's customer).
-- The quantity sum is cast: DuckDB sums BIGINT into HUGEINT (written as DOUBLE), Spark into BIGINT.
-- Money is summed exactly (as DECIMAL, then stored as DOUBLE): a double sum depends on the order
-- the lines arrive in, and an order rebuilt by an incremental run must equal a full build's.
WITH lines AS (
    SELECT
        order_id,
        any_value(customer_id) AS customer_id,
        count(*) AS order_lines,
        CAST(sum(order_quantity) AS BIGINT) AS order_quantity,
        CAST(sum(CAST(gross_sales AS DECIMAL(18, 10))) AS DOUBLE) AS gross_sales,
        CAST(sum(CAST(discount_amount AS DECIMAL(18, 10))) AS DOUBLE) AS discount_amount,
        CAST(sum(CAST(net_sales AS DECIMAL(18, 10))) AS DOUBLE) AS net_sales,
        CAST(sum(CAST(profit AS DECIMAL(18, 10))) AS DOUBLE) AS profit
    FROM marts.fact_sales
    GROUP BY order_id
)
SELECT
    f.order_id,
    f.customer_id,
    c.customer_segment,
    d.shipping_date,
    d.shipping_mode,
    d.shipping_days,
    d.delivery_status,
    d.late_delivery_risk,
    f.order_lines,
    f.order_quantity,
    f.gross_sales,
    f.discount_amount,
    f.net_sales,
    f.profit
FROM lines AS f
JOIN curated.delivery_dim AS d ON d.order_id = f.order_id
JOIN curated.customer_dim AS c ON c.customer_id = f.customer_id
