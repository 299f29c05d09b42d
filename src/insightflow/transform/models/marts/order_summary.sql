/* ---
table: marts.order_summary
grain: one row per order, with its delivery and its customer's segment
key: [order_id]
checks:
  - {check: unique, columns: [order_id]}
  - {check: not_null, columns: [order_id, shipping_date, shipping_mode, late_delivery_risk]}
--- */
-- Per-order figures (orders placed, late deliveries, average shipping days, on-time rate by
-- mode) are averages over orders, not over order lines: an order with 5 lines counts once.
SELECT
    f.order_id,
    any_value(f.customer_id) AS customer_id,
    any_value(c.customer_segment) AS customer_segment,
    any_value(d.shipping_date) AS shipping_date,
    any_value(d.shipping_mode) AS shipping_mode,
    any_value(d.shipping_days) AS shipping_days,
    any_value(d.delivery_status) AS delivery_status,
    any_value(d.late_delivery_risk) AS late_delivery_risk,
    count(*) AS order_lines,
    sum(f.order_quantity) AS order_quantity,
    sum(f.gross_sales) AS gross_sales,
    sum(f.discount_amount) AS discount_amount,
    sum(f.net_sales) AS net_sales,
    sum(f.profit) AS profit
FROM marts.fact_sales AS f
JOIN curated.delivery_dim AS d ON d.order_id = f.order_id
JOIN curated.customer_dim AS c ON c.customer_id = f.customer_id
GROUP BY f.order_id
