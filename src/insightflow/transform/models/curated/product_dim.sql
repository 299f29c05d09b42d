/* ---
table: curated.product_dim
grain: one row per product; when several loads hold a product, the newest load wins
kind: incremental_by_unique_key
key: [product_id]
latest_per_key: true
conserves: raw.products
columns:
  product_id: the product's id in the export
  product_name: name, spaces trimmed and collapsed, casing kept (brands)
  department_id: the department's id
  department_name: department, spaces trimmed and collapsed
  category_id: the category's id
  category_name: category, spaces trimmed and collapsed
  product_priority: High Priority (department Electronics) or Regular
indexes:
  - [category_name]
checks:
  - {check: unique, columns: [product_id]}
  - {check: not_null, columns: [product_id, product_name, product_priority]}
  - {check: accepted_values, column: product_priority, values: [High Priority, Regular Priority]}
  - {check: volume, max_change: 0.5, severity: warn}
--- */
-- Names carry trailing and doubled spaces ("Smart watch ", "As Seen on  TV!"): trim and collapse
-- them, but keep their casing, which is meaningful (brands). The original re-cased them.
WITH cleaned AS (
    SELECT
        *,
        regexp_replace(trim(product_name), '\s+', ' ', 'g') AS name,
        regexp_replace(trim(department_name), '\s+', ' ', 'g') AS department,
        regexp_replace(trim(category_name), '\s+', ' ', 'g') AS category
    FROM raw.products
)
SELECT
    product_id,
    name AS product_name,
    department_id,
    department AS department_name,
    category_id,
    category AS category_name,
    CASE WHEN department = 'Electronics' THEN 'High Priority' ELSE 'Regular Priority' END
        AS product_priority,
    nullif(concat_ws(',',
        CASE WHEN name <> product_name THEN 'name_spaces_trimmed' END,
        CASE WHEN department <> department_name OR category <> category_name
            THEN 'category_spaces_trimmed' END
    ), '') AS _repairs,
    CASE
        WHEN _invalid LIKE '{"_record"%' THEN 'malformed_record'
        WHEN _invalid IS NOT NULL THEN 'invalid_value'
        WHEN product_id IS NULL THEN 'missing_product_id'
        WHEN name IS NULL OR name = '' THEN 'missing_product_name'
    END AS _reason,
    _load_id,
    _source_file,
    _source_line,
    _invalid
FROM cleaned
