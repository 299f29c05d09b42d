/* ---
table: curated.order_dim
grain: one row per order line (order_id, product_id); the newest load of a line wins
kind: incremental_by_unique_key
key: [order_id, product_id]
latest_per_key: true
conserves: raw.orders
# a line waits in quarantine for its customer or product; the run that brings the key retries it
late_arriving:
  - {reason: orphan_customer, column: customer_id, lookup: curated.customer_dim}
  - {reason: orphan_product, column: product_id, lookup: curated.product_dim}
columns:
  order_line_key: the line's key, order code and product id
  order_id: the order's id
  order_code: the order id as the original wrote it, a 10-character zero-padded string
  customer_id: the order's customer (curated.customer_dim)
  product_id: the line's product (curated.product_dim)
  order_quantity: units ordered
  product_price: unit price in dollars, as exported
  discount_rate: discount as a fraction of the gross line
  discount_amount: discount in dollars, as exported
  profit_ratio: profit as a fraction of the net line
  payment_type: how the order was paid
  order_status: the order's status in its newest load
indexes:
  - [customer_id]
  - [product_id]
checks:
  - {check: unique, columns: [order_id, product_id]}
  - {check: not_null, columns: [order_line_key, order_id, customer_id, product_id, order_quantity, product_price]}
  - {check: relationships, column: customer_id, to: curated.customer_dim, field: customer_id}
  - {check: relationships, column: product_id, to: curated.product_dim, field: product_id}
  - {check: range, column: order_quantity, min: 1}
  - {check: range, column: discount_rate, min: 0, max: 1}
  - {check: range, column: product_price, above: 0}
  - {check: volume, max_change: 0.5, severity: warn}
--- */
-- order_line_key is the natural key spelled out ("0000000002-1073"): deterministic on every run
-- and engine, unlike the original's ROW_NUMBER() OVER (ORDER BY ORDER_ID), which orders ties
-- arbitrarily. DISCOUNT_PERCENTAGE of the export is a dollar amount (price x quantity x rate), read as such:
-- the original multiplied it by the price again and divided by 100. Lines that cannot be placed
-- (bad values, unknown customer or product) are quarantined, never dropped.
WITH lines AS (
    SELECT
        *,
        upper(trim(payment_type)) AS payment,
        upper(trim(order_status)) AS status
    FROM raw.orders
)
SELECT
    lpad(CAST(l.order_id AS VARCHAR), 10, '0') || '-' || CAST(l.order_product_id AS VARCHAR)
        AS order_line_key,
    l.order_id,
    lpad(CAST(l.order_id AS VARCHAR), 10, '0') AS order_code,
    l.order_customer_id AS customer_id,
    l.order_product_id AS product_id,
    l.order_quantity,
    l.product_price,
    coalesce(l.discount_rate, 0.0) AS discount_rate,
    coalesce(l.discount_amount, 0.0) AS discount_amount,
    coalesce(l.profit_ratio, 0.0) AS profit_ratio,
    coalesce(l.payment, 'UNKNOWN') AS payment_type,
    coalesce(l.status, 'UNKNOWN') AS order_status,
    nullif(concat_ws(',',
        CASE WHEN l.payment <> l.payment_type OR l.status <> l.order_status
            THEN 'category_normalised' END,
        CASE WHEN l.discount_rate IS NULL OR l.discount_amount IS NULL OR l.profit_ratio IS NULL
            THEN 'default_applied' END
    ), '') AS _repairs,
    CASE
        WHEN l._invalid LIKE '{"_record"%' THEN 'malformed_record'
        WHEN l._invalid IS NOT NULL THEN 'invalid_value'
        WHEN l.order_id IS NULL THEN 'missing_order_id'
        WHEN l.order_product_id IS NULL THEN 'missing_product_id'
        WHEN l.order_customer_id IS NULL THEN 'missing_customer_id'
        WHEN l.order_quantity IS NULL THEN 'missing_order_quantity'
        WHEN l.product_price IS NULL THEN 'missing_product_price'
        WHEN l.order_quantity < 1 THEN 'quantity_below_one'
        WHEN l.product_price <= 0 THEN 'price_not_positive'
        WHEN l.discount_rate < 0 OR l.discount_rate > 1 THEN 'discount_rate_out_of_range'
        WHEN c.customer_id IS NULL THEN 'orphan_customer'
        WHEN p.product_id IS NULL THEN 'orphan_product'
    END AS _reason,
    l._load_id,
    l._source_file,
    l._source_line,
    l._invalid
FROM lines AS l
LEFT JOIN curated.customer_dim AS c ON c.customer_id = l.order_customer_id
LEFT JOIN curated.product_dim AS p ON p.product_id = l.order_product_id
