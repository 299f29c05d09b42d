"""DuckDB-dialect SQL (models, dispositions, checks) translated for Spark with sqlglot.

The models are written once, in DuckDB's dialect; sqlglot transpiles them. Two rewrites on top of
the transpilation make the same text run on Spark:

* Spark temporary views cannot carry a schema (``raw.customers``), so every schema-qualified table
  becomes one flat view name: ``raw.customers`` -> ``raw__customers`` (:func:`view_name`).
* ``initcap`` is a DuckDB macro of InsightFlow that splits words on spaces, exactly what Spark's
  native ``initcap`` does; sqlglot reads DuckDB's ``initcap`` as splitting on any punctuation too
  and would warn that Spark cannot, so the delimiter argument it adds is dropped.
* ``hash(...)``, DuckDB's 64-bit hash of its arguments (a row's fingerprint), is Spark's
  ``xxhash64``: Spark's ``hash`` has 32 bits only.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel

#: Separator between schema and table in a Spark view name (``raw.customers`` -> ``raw__customers``).
SEPARATOR = "__"


def view_name(table: str) -> str:
    """The Spark temporary view that stands for a schema-qualified table."""
    return table.replace(".", SEPARATOR)


def table_name(view: str) -> str:
    """The table a Spark view name stands for (for error messages)."""
    return view.replace(SEPARATOR, ".", 1)


def to_spark(sql: str) -> str:
    """Translate one DuckDB-dialect statement to Spark SQL, tables renamed to their views."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    tree = tree.transform(_spark_rewrites)
    return tree.sql(dialect="spark", unsupported_level=ErrorLevel.RAISE)


def spark_type(duckdb_type: str) -> str:
    """A DuckDB column type as Spark DDL (``TIMESTAMP`` -> ``TIMESTAMP_NTZ``, ``VARCHAR`` -> ``STRING``)."""
    return exp.DataType.build(duckdb_type, dialect="duckdb").sql(dialect="spark")


def _spark_rewrites(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Table) and node.args.get("db"):
        flat = view_name(f"{node.db}.{node.name}")
        node = node.copy()
        node.set("this", exp.to_identifier(flat, quoted=True))
        node.set("db", None)
        node.set("catalog", None)
        return node
    if isinstance(node, exp.Initcap) and node.args.get("expression"):
        return exp.Initcap(this=node.this)
    if isinstance(node, exp.Anonymous) and str(node.this).lower() == "hash":
        return exp.Anonymous(this="XXHASH64", expressions=node.expressions)
    return node
