/* ---
table: curated.customer_dim
grain: one row per customer; when several loads hold a customer, the newest load wins
kind: incremental_by_unique_key
key: [customer_id]
latest_per_key: true
conserves: raw.customers
columns:
  customer_id: the customer's id in the export
  customer_fname: first name, initcap (personal data)
  customer_lname: last name, initcap (personal data)
  customer_segment: Consumer, Corporate or Home Office
  customer_category: High Value (Corporate), Regular Value (Consumer) or Low Value (the others)
  customer_city: city (personal data)
  customer_state: state, two letters
  customer_country: country
  customer_zipcode: zip code, 5 digits with its leading zeros (personal data)
indexes:
  - [customer_segment]
checks:
  - {check: unique, columns: [customer_id]}
  - {check: not_null, columns: [customer_id, customer_segment, customer_category]}
  - {check: accepted_values, column: customer_category, values: [High Value, Regular Value, Low Value]}
  - {check: volume, max_change: 0.5, severity: warn}
--- */
-- Repairs (each flagged in _repairs): 3 rows of the export are shifted one column left from the
-- city on (city holds the state, state holds the zip, zip is empty); 8 rows hold the last name in
-- the first-name field and have no last name. Zip codes lost their leading zeros: padded to 5.
-- A name that starts like a spreadsheet formula (=, +, -, @) gets a leading quote, so that an
-- analyst opening an extract in a spreadsheet does not run it (OWASP "CSV injection").
WITH source AS (
    SELECT
        *,
        customer_zipcode IS NULL
            AND regexp_matches(customer_state, '^[0-9]{3,5}$')
            AND regexp_matches(customer_city, '^[A-Za-z]{2}$') AS is_shifted,
        customer_lname IS NULL AND customer_fname IS NOT NULL AS is_name_in_first,
        initcap(trim(customer_segment)) AS segment
    FROM raw.customers
),
repaired AS (
    SELECT
        *,
        CASE WHEN is_shifted THEN customer_state ELSE customer_zipcode END AS zip,
        CASE WHEN is_shifted THEN upper(customer_city) ELSE customer_state END AS state,
        trim(CASE WHEN is_name_in_first THEN NULL ELSE customer_fname END) AS first_name,
        trim(CASE WHEN is_name_in_first THEN customer_fname ELSE customer_lname END) AS last_name
    FROM source
),
named AS (
    SELECT
        *,
        coalesce(regexp_matches(first_name, '^[=+@-]'), false) AS is_formula_first,
        coalesce(regexp_matches(last_name, '^[=+@-]'), false) AS is_formula_last
    FROM repaired
)
SELECT
    customer_id,
    CASE WHEN is_formula_first THEN chr(39) || first_name ELSE initcap(first_name) END AS customer_fname,
    CASE WHEN is_formula_last THEN chr(39) || last_name ELSE initcap(last_name) END AS customer_lname,
    segment AS customer_segment,
    CASE segment
        WHEN 'Corporate' THEN 'High Value'
        WHEN 'Consumer' THEN 'Regular Value'
        ELSE 'Low Value'
    END AS customer_category,
    CASE WHEN is_shifted THEN NULL ELSE trim(customer_city) END AS customer_city,
    trim(state) AS customer_state,
    trim(customer_country) AS customer_country,
    CASE
        WHEN regexp_matches(trim(zip), '^[0-9]{1,5}$') THEN lpad(trim(zip), 5, '0')
        ELSE trim(zip)
    END AS customer_zipcode,
    nullif(concat_ws(',',
        CASE WHEN is_shifted THEN 'shifted_columns' END,
        CASE WHEN is_name_in_first THEN 'last_name_in_first_name' END,
        CASE WHEN segment <> customer_segment THEN 'segment_normalised' END,
        CASE WHEN is_formula_first OR is_formula_last THEN 'formula_escaped' END
    ), '') AS _repairs,
    CASE
        WHEN _invalid LIKE '{"_record"%' THEN 'malformed_record'
        WHEN _invalid IS NOT NULL THEN 'invalid_value'
        WHEN customer_id IS NULL THEN 'missing_customer_id'
        WHEN segment IS NULL THEN 'missing_customer_segment'
    END AS _reason,
    _load_id,
    _source_file,
    _source_line,
    _invalid
FROM named
