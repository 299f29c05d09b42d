/* ---
table: curated.delivery_dim
grain: one row per order's delivery; the newest load of a delivery wins
kind: incremental_by_unique_key
key: [order_id]
latest_per_key: true
conserves: raw.deliveries
late_arriving:
  - {reason: orphan_order, column: order_id, lookup: curated.order_dim}
columns:
  order_id: the delivered order (curated.order_dim)
  shipping_date: the day the order shipped
  shipping_mode: Standard Class, Second Class, First Class or Same Day
  shipping_days: days from order to delivery, 0 to 7
  delivery_category: Fast (2 days or less), Standard (3 to 5) or Slow
  delivery_status: the delivery's status in the export
  late_delivery_risk: 1 if the delivery was late, else 0
  is_late_delivery: late_delivery_risk as a boolean
indexes:
  - [shipping_date]
  - [shipping_mode]
checks:
  - {check: unique, columns: [order_id]}
  - {check: not_null, columns: [order_id, shipping_date, shipping_mode, shipping_days, delivery_category]}
  - {check: accepted_values, column: delivery_category, values: [Fast, Standard, Slow]}
  - {check: range, column: shipping_days, min: 0, max: 30}
  - {check: relationships, column: order_id, to: curated.order_dim, field: order_id}
  - {check: volume, max_change: 0.5, severity: warn}
--- */
-- The original filtered `WHERE shipping_date IS NOT NULL` and lost those orders silently; here a
-- delivery without a usable date, mode or day count is quarantined with its reason.
-- A shipping mode is normalised once per distinct mode (a handful), not once per delivery.
WITH modes AS (
    SELECT shipping_mode, initcap(trim(shipping_mode)) AS mode
    FROM (SELECT DISTINCT shipping_mode FROM raw.deliveries) AS distinct_modes
),
deliveries AS (
    SELECT
        r.*,
        m.mode,
        upper(left(trim(r.delivery_status), 1)) || lower(substr(trim(r.delivery_status), 2)) AS status
    FROM raw.deliveries AS r
    LEFT JOIN modes AS m ON m.shipping_mode = r.shipping_mode
),
ordered AS (
    SELECT DISTINCT order_id FROM curated.order_dim
)
SELECT
    d.order_id,
    d.shipping_date,
    d.mode AS shipping_mode,
    d.shipping_days,
    CASE
        WHEN d.shipping_days <= 2 THEN 'Fast'
        WHEN d.shipping_days <= 5 THEN 'Standard'
        ELSE 'Slow'
    END AS delivery_category,
    d.status AS delivery_status,
    d.late_delivery_risk,
    d.late_delivery_risk = 1 AS is_late_delivery,
    nullif(concat_ws(',',
        CASE WHEN d.mode <> d.shipping_mode OR d.status <> d.delivery_status
            THEN 'category_normalised' END
    ), '') AS _repairs,
    CASE
        WHEN d._invalid LIKE '{"_record"%' THEN 'malformed_record'
        WHEN d._invalid IS NOT NULL THEN 'invalid_value'
        WHEN d.order_id IS NULL THEN 'missing_order_id'
        WHEN d.shipping_date IS NULL THEN 'missing_shipping_date'
        WHEN d.mode IS NULL THEN 'missing_shipping_mode'
        WHEN d.shipping_days IS NULL THEN 'missing_shipping_days'
        WHEN d.late_delivery_risk IS NULL THEN 'missing_late_delivery_risk'
        WHEN d.shipping_days < 0 OR d.shipping_days > 30 THEN 'shipping_days_out_of_range'
        WHEN d.late_delivery_risk NOT IN (0, 1) THEN 'late_delivery_risk_not_0_or_1'
        WHEN o.order_id IS NULL THEN 'orphan_order'
    END AS _reason,
    d._load_id,
    d._source_file,
    d._source_line,
    d._invalid
FROM deliveries AS d
LEFT JOIN ordered AS o ON o.order_id = d.order_id
