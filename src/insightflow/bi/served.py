"""What the serving database holds: the published star schema in PostgreSQL's terms.

Every model's table under its own schema and name (``curated.*``, ``marts.*``) with PostgreSQL
types, a primary key on the model's key, an index per ``indexes:`` entry of its header and comments
from its ``grain:`` and ``columns:``; a table with personal data (``insightflow.query.masking``)
lives in ``insightflow_private`` and is served as a view that masks those columns for everyone not
in ``insightflow_pii``. The KPI catalogue is served as views in ``kpi`` (``kpi.lines`` and one per
KPI, unfiltered), translated from DuckDB's SQL by sqlglot, so that a BI tool reads the definitions
``insightflow kpis`` reads.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache

import pyarrow as pa
import sqlglot
from sqlglot import exp

from insightflow.query.catalogue import CATALOGUE, LINES_SOURCE
from insightflow.query.masking import MASK, masked_columns
from insightflow.quoting import ident, literal
from insightflow.transform.models import Model, load_models

#: Schemas the sync owns: dropped and made again by a full sync (nothing else belongs there).
SERVED_SCHEMAS = ("curated", "marts", "kpi")
PRIVATE_SCHEMA, META_SCHEMA = "insightflow_private", "insightflow_bi"
READER_ROLE, PII_ROLE = "insightflow_reader", "insightflow_pii"
#: Bumped when what a full sync creates changes (views, masking): a served database of another
#: version is resynced whole.
LAYOUT_VERSION = 1

LINEAGE = {
    "_repairs": "repairs made to the source row, if any (comma-separated codes)",
    "_load_id": "the load (landed file) the row comes from",
    "_source_file": "the source file of the row",
    "_source_line": "the row's line in its source file",
}


@dataclass(frozen=True)
class ServedTable:
    """One model's table as served: its columns with PostgreSQL types, key, indexes and comments."""

    model: Model
    columns: tuple[tuple[str, str], ...]
    masked: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.model.table

    @property
    def key(self) -> tuple[str, ...]:
        return self.model.key

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]

    @property
    def storage(self) -> str:
        """The qualified name of the table that holds the rows (the private one if masked)."""
        schema, table = self.name.split(".")
        return f"{ident(PRIVATE_SCHEMA)}.{ident(table)}" if self.masked else f"{ident(schema)}.{ident(table)}"

    @property
    def public(self) -> str:
        schema, table = self.name.split(".")
        return f"{ident(schema)}.{ident(table)}"

    def ddl(self) -> list[str]:
        """CREATE TABLE (and the masking view), without the key and indexes (added after the load)."""
        columns = ", ".join(f"{ident(c)} {kind}" for c, kind in self.columns)
        statements = [f"CREATE TABLE {self.storage} ({columns})"]
        if self.masked:
            shown = ", ".join(
                f"CASE WHEN {ident(c)} IS NULL OR pg_has_role(current_user, '{PII_ROLE}', 'MEMBER') "
                f"THEN {ident(c)} ELSE '{MASK}' END AS {ident(c)}" if c in self.masked else ident(c)
                for c in self.column_names
            )
            statements.append(f"CREATE VIEW {self.public} AS SELECT {shown} FROM {self.storage}")
        return statements

    def constraints(self) -> list[str]:
        table = self.name.split(".")[1]
        statements = [f"ALTER TABLE {self.storage} ADD PRIMARY KEY ({', '.join(map(ident, self.key))})"]
        for columns in self.model.indexes:
            index = ident(f"{table}_{'_'.join(columns)}_idx")
            statements.append(f"CREATE INDEX {index} ON {self.storage} ({', '.join(map(ident, columns))})")
        return [*statements, f"ANALYZE {self.storage}"]

    def comments(self) -> list[str]:
        kind = "VIEW" if self.masked else "TABLE"
        about = f"{self.model.grain}. Key: {', '.join(self.key)}. Built by InsightFlow."
        if self.masked:
            about += f" {', '.join(self.masked)} read {MASK} unless the reader is in {PII_ROLE}."
        statements = [f"COMMENT ON {kind} {self.public} IS {literal(about)}"]
        for column in self.column_names:
            text = self.model.columns.get(column) or LINEAGE.get(column)
            if text:
                target = f"{self.public}.{ident(column)}"
                statements.append(f"COMMENT ON COLUMN {target} IS {literal(text)}")
        return statements


def served_table(model: Model, schema: pa.Schema) -> ServedTable:
    columns = tuple((f.name, pg_type(f.type) + ("" if f.nullable else " NOT NULL")) for f in schema)
    return ServedTable(model, columns, tuple(masked_columns(model.table, schema.names)))


def served_models() -> tuple[Model, ...]:
    """The models whose tables are served (the curated and mart schemas), in dependency order."""
    return tuple(m for m in load_models() if m.schema in SERVED_SCHEMAS)


def layout_of(tables: list[ServedTable]) -> dict:
    """What a full sync created, to tell whether the served database can be updated in place."""
    return {"version": LAYOUT_VERSION, "views": views_fingerprint(),
            "tables": {t.name: {"columns": [list(c) for c in t.columns], "key": list(t.key),
                                "masked": list(t.masked), "indexes": [list(i) for i in t.model.indexes]}
                       for t in tables}}


def pg_type(kind: pa.DataType) -> str:
    """The PostgreSQL type of an Arrow column (money stays double precision, as exported)."""
    if pa.types.is_boolean(kind):
        return "boolean"
    if pa.types.is_int8(kind) or pa.types.is_int16(kind) or pa.types.is_uint8(kind):
        return "smallint"
    if pa.types.is_int32(kind) or pa.types.is_uint16(kind):
        return "integer"
    if pa.types.is_integer(kind):
        return "bigint"
    if pa.types.is_float32(kind):
        return "real"
    if pa.types.is_floating(kind):
        return "double precision"
    if pa.types.is_decimal(kind):
        return f"numeric({kind.precision}, {kind.scale})"
    if pa.types.is_date(kind):
        return "date"
    if pa.types.is_timestamp(kind):
        return "timestamptz" if kind.tz else "timestamp"
    return "text"


# --- the KPI catalogue as views ---------------------------------------------------------------

@cache
def kpi_views() -> tuple[tuple[str, str, str], ...]:
    """(name, PostgreSQL SELECT, comment) of ``kpi.lines`` and of every catalogue KPI, unfiltered
    (``top_products``: the top 10, as ``insightflow kpi top_products``)."""
    views = [("lines", _postgres(LINES_SOURCE),
              "The order lines of marts.fact_sales with their order's shipping mode and segment and their "
              "product's name and category: what every line KPI reads.")]
    for kpi in CATALOGUE.values():
        ctes = [cte for cte, used in (("lines AS (SELECT * FROM kpi.lines)", kpi.uses_lines),
                                      ("orders AS (SELECT * FROM marts.order_summary)", kpi.uses_orders)) if used]
        sql = f"WITH {', '.join(ctes)} {kpi.body.replace('$top', '10')}"
        views.append((kpi.name, _postgres(sql), f"{kpi.title}: {kpi.description}"))
    return tuple(views)


def views_fingerprint() -> str:
    return hashlib.sha256(json.dumps(kpi_views()).encode()).hexdigest()[:16]


def _postgres(sql: str) -> str:
    """DuckDB SQL as PostgreSQL: sqlglot's translation, plus what it leaves to the dialects."""
    tree = sqlglot.parse_one(sql, dialect="duckdb")
    aliases = iter(range(1, 1000))

    def rewrite(node: exp.Expression) -> exp.Expression:
        # map(list(k ORDER BY k), list(v ORDER BY k)): a JSON object keyed by k in PostgreSQL
        if isinstance(node, exp.Map) and all(isinstance(a, exp.ArrayAgg) for a in (node.args["keys"],
                                                                                    node.args["values"])):
            key, value = (_unordered(node.args[part].this) for part in ("keys", "values"))
            return exp.Anonymous(this="JSONB_OBJECT_AGG", expressions=[key, value])
        # PostgreSQL 15 wants an alias on every subquery in FROM
        if isinstance(node, exp.Subquery) and not node.alias and isinstance(node.parent, exp.From):
            return exp.alias_(node, f"q{next(aliases)}", table=True)
        return node

    return tree.transform(rewrite).sql(dialect="postgres")


def _unordered(node: exp.Expression) -> exp.Expression:
    return node.this if isinstance(node, exp.Order) else node


def served_tables(schemas: dict[str, pa.Schema]) -> list[ServedTable]:
    """The served tables for the Arrow schemas of the published tables (by name)."""
    return [served_table(m, schemas[m.table]) for m in served_models() if m.table in schemas]
