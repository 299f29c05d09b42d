/* ---
table: marts.fact_sales
grain: one row per order line
kind: incremental_by_unique_key
key: [sales_key]
conserves: curated.order_dim
# one row per order line of order_dim: rebuilt for the lines that changed, and for the lines of an
# order whose delivery changed
by: [order_id, product_id]
lookups:
  curated.delivery_dim: [order_id]
columns:
  sales_key: the line's deterministic surrogate key
  order_id: the order (marts.order_summary, curated.order_dim)
  customer_id: the customer (curated.customer_dim)
  product_id: the product (curated.product_dim)
  shipping_date: the day the order shipped (curated.delivery_dim)
  order_quantity: units ordered
  product_price: unit price in dollars, as exported
  gross_sales: product_price × order_quantity
  discount_rate: discount as a fraction of the gross line
  discount_amount: discount in dollars, as exported
  net_sales: gross_sales − discount_amount
  profit_ratio: profit as a fraction of the net line
  profit: net_sales × profit_ratio
  order_size_category: Large (10 units or more), Medium (5 to 9) or Small
indexes:
  - [order_id]
  - [product_id]
  - [customer_id]
  - [shipping_date]
checks:
  - {check: unique, columns: [order_id, product_id]}
  - {check: not_null, columns: [sales_key, customer_id, product_id, order_id, shipping_date]}
  - {check: relationships, column: customer_id, to: curated.customer_dim, field: customer_id}
  - {check: relationships, column: product_id, to: curated.product_dim, field: product_id}
  - {check: relationships, column: order_id, to: curated.delivery_dim, field: order_id}
  - {check: accepted_values, column: order_size_category, values: [Large, Medium, Small]}
  # totals against the order lines they come from (those with a delivery): a fan-out shows here
  - check: reconcile
    expression: sum(order_quantity)
    against: SELECT sum(o.order_quantity) AS total FROM curated.order_dim AS o JOIN curated.delivery_dim AS d ON d.order_id = o.order_id
  - check: reconcile
    expression: sum(gross_sales)
    against: SELECT sum(o.product_price * o.order_quantity) AS total FROM curated.order_dim AS o JOIN curated.delivery_dim AS d ON d.order_id = o.order_id
    tolerance: 0.01
  - {check: freshness, column: shipping_date, max_age_days: 30, severity: warn}
  - {check: volume, max_change: 0.5, severity: warn}
--- */
-- sales_key is the order line's key (curated.order_dim.order_line_key), the same on every run and
-- engine (the original's ROW_NUMBER() OVER (ORDER BY ORDER_ID) ordered ties arbitrarily).
-- Money stays in double precision as exported; round only for display (docs/DATA.md).
SELECT
    o.order_line_key AS sales_key,
    o.order_id,
    o.customer_id,
    o.product_id,
    d.shipping_date,
    o.order_quantity,
    o.product_price,
    o.product_price * o.order_quantity AS gross_sales,
    o.discount_rate,
    o.discount_amount,
    o.product_price * o.order_quantity - o.discount_amount AS net_sales,
    o.profit_ratio,
    (o.product_price * o.order_quantity - o.discount_amount) * o.profit_ratio AS profit,
    CASE
        WHEN o.order_quantity >= 10 THEN 'Large'
        WHEN o.order_quantity >= 5 THEN 'Medium'
        ELSE 'Small'
    END AS order_size_category,
    CASE WHEN d.order_id IS NULL THEN 'missing_delivery' END AS _reason,
    o._load_id,
    o._source_file,
    o._source_line
FROM curated.order_dim AS o
LEFT JOIN curated.delivery_dim AS d ON d.order_id = o.order_id
