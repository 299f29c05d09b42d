"""Personal data, masked per column for principals without the ``pii`` grant.

Masking happens on the Arrow data a query's connection registers, before DuckDB sees it: every view,
``SELECT *``, ``SUMMARIZE`` or join then reads masked values, whatever the SQL says.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

MASK = "***"
# Customer names and street-level location (city, zip code); the state and country stay visible.
PII_COLUMNS = frozenset({"customer_fname", "customer_lname", "customer_city", "customer_zipcode"})
# Columns holding a whole source row as text (quarantine records, unparsed values).
ROW_TEXT_COLUMNS = frozenset({"record", "invalid", "_invalid"})


def masked_columns(table: str, columns: list[str]) -> list[str]:
    """The columns of ``table`` to mask: PII columns, and row-as-text columns of customer tables."""
    masked = [c for c in columns if c in PII_COLUMNS]
    if masked or "customer" in table.split(".")[-1]:
        masked += [c for c in columns if c in ROW_TEXT_COLUMNS]
    return masked


def mask_table(table: str, data: pa.Table) -> pa.Table:
    """``data`` with every masked column replaced by ``***`` (NULL stays NULL)."""
    for column in masked_columns(table, data.column_names):
        index = data.column_names.index(column)
        values = data.column(index)
        masked = pc.if_else(pc.is_null(values), pa.scalar(None, pa.string()), pa.scalar(MASK))
        data = data.set_column(index, pa.field(column, pa.string()), masked)
    return data
