/* ---
table: marts.order_summary
grain: one row per order, with its delivery and its customer's segment
key: [order_id]
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
WITH lines AS (
    SELECT
        order_id,
        any_value(customer_id) AS customer_id,
        count(*) AS order_lines,
        CAST(sum(order_quantity) AS BIGINT) AS order_quantity,
        sum(gross_sales) AS gross_sales,
        sum(discount_amount) AS discount_amount,
        sum(net_sales) AS net_sales,
        sum(profit) AS profit
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
