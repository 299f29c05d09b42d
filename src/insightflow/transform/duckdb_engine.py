"""The DuckDB engine: the embedded default, fast on one machine."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb

from insightflow.errors import ModelError
from insightflow.lake import TableFiles
from insightflow.quoting import ident as _ident
from insightflow.quoting import literal as _literal
from insightflow.quoting import table_ident as _table_ident
from insightflow.transform.engine import BuildResult
from insightflow.transform.models import (
    DISPOSITION,
    INVALID,
    REASON,
    SUPERSEDED,
    Model,
    plain_sql,
    wrapped_sql,
)

# Functions the models use that DuckDB lacks, defined as macros (Spark has them natively).
# initcap splits into words only when there is a space: most values are one word, and the split,
# lambda and join cost ~10x the direct expression (which gives the same result for one word).
_MACROS = (
    "CREATE OR REPLACE MACRO initcap(s) AS CASE WHEN contains(s, ' ') THEN "
    "array_to_string(list_transform(string_split(s, ' '), lambda w: upper(w[1]) || lower(w[2:])), ' ') "
    "ELSE upper(s[1]) || lower(s[2:]) END",
)
_SCHEMAS = ("raw", "curated", "marts", "quarantine", "ops")


def relation_sql(table: TableFiles) -> str:
    """A SELECT over a resolved table's Parquet files (typed and empty when it has none)."""
    if not table.files:
        columns = ", ".join(f"CAST(NULL AS {t}) AS {_ident(c)}" for c, t in table.columns)
        return f"SELECT {columns} WHERE false"
    files = ", ".join(_literal(f) for f in table.files)
    return f"SELECT * FROM read_parquet([{files}], union_by_name = true)"


class DuckDBEngine:
    """Runs the models in one in-process DuckDB database (in memory)."""

    name = "duckdb"

    def __init__(self, *, threads: int | None = None, memory_limit: str | None = None,
                 compression: str = "zstd") -> None:
        self.compression = compression
        self.con = duckdb.connect()
        # Models never rely on row order; letting DuckDB write and join out of order is faster.
        self.con.execute("SET preserve_insertion_order = false")
        self.con.execute("SET enable_progress_bar = false")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        if memory_limit:
            self.con.execute(f"SET memory_limit = {_literal(memory_limit)}")
        for schema in _SCHEMAS:
            self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {_ident(schema)}")
        for macro in _MACROS:
            self.con.execute(macro)

    def register(self, table: TableFiles) -> None:
        self.con.execute(f"CREATE OR REPLACE VIEW {_table_ident(table.name)} AS {relation_sql(table)}")

    def build(self, model: Model, staging: Path) -> BuildResult:
        started = time.perf_counter()
        table = _table_ident(model.table)
        everything = _table_ident(model.table + "__all")
        try:
            columns = [row[0] for row in self.con.execute(f"DESCRIBE {model.sql}").fetchall()]
            if REASON in columns:
                # One materialization holds every row with its disposition; the published table is
                # a view over it (no second copy). Newest-load-wins ranking is costly (a window over
                # every row), so it runs only when some key really occurs more than once.
                self.con.execute(f"CREATE OR REPLACE TABLE {everything} AS {plain_sql(model)}")
                if model.latest_per_key and self._has_repeated_keys(model, everything):
                    ranked = _table_ident(model.table + "__ranked")
                    rows = f"SELECT * EXCLUDE ({DISPOSITION}) FROM {everything}"
                    self.con.execute(f"CREATE OR REPLACE TABLE {ranked} AS {wrapped_sql(model, columns, rows)}")
                    self.con.execute(f"DROP TABLE {everything}")
                    self.con.execute(f"ALTER TABLE {ranked} RENAME TO {_ident(model.table.split('.')[1] + '__all')}")
            else:  # an aggregate mart: every row is published
                self.con.execute(f"CREATE OR REPLACE TABLE {table} AS {model.sql}")
        except duckdb.Error as error:
            raise ModelError(f"model {model.table} failed on DuckDB: {_one_line(error)}") from None
        table_file = staging / model.table / "part-00000.parquet"
        quarantine_files = []
        if REASON in columns:
            published = [c for c in columns if c not in (REASON, INVALID)]
            self.con.execute(
                f"CREATE OR REPLACE VIEW {table} AS "
                f"SELECT {', '.join(map(_ident, published))} FROM {everything} WHERE {DISPOSITION} IS NULL"
            )
            self._copy(f"SELECT * FROM {table}", table_file)
            quarantine_files.append(staging / model.quarantine_table / "part-00000.parquet")
            self._copy(self._quarantine_sql(model, columns, everything), quarantine_files[0])
            counts = dict(
                self.con.execute(
                    f"SELECT coalesce({DISPOSITION}, ''), count(*) FROM {everything} GROUP BY 1"
                ).fetchall()
            )
        else:
            self._copy(f"SELECT * FROM {table}", table_file)
            counts = {"": self.con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]}
        input_rows = None
        if model.conserves:
            input_rows = self.query(f"SELECT count(*) FROM {_table_ident(model.conserves)}")[1][0][0]
        reasons = {r: n for r, n in counts.items() if r not in ("", SUPERSEDED)}
        return BuildResult(
            table=model.table,
            quarantine_table=model.quarantine_table if quarantine_files else None,
            published_files=[table_file],
            quarantine_files=quarantine_files,
            rows=counts.get("", 0),
            quarantined=sum(reasons.values()),
            superseded=counts.get(SUPERSEDED, 0),
            input_rows=input_rows,
            seconds=time.perf_counter() - started,
            reasons=reasons,
        )

    def _has_repeated_keys(self, model: Model, everything: str) -> bool:
        keys = ", ".join(_ident(k) for k in model.key)
        return self.con.execute(
            f"SELECT EXISTS (SELECT 1 FROM {everything} WHERE {REASON} IS NULL "
            f"GROUP BY {keys} HAVING count(*) > 1)"
        ).fetchall()[0][0]

    def query(self, sql: str) -> tuple[list[str], list[tuple]]:
        cursor = self.con.execute(sql)
        names = [d[0] for d in cursor.description]
        return names, cursor.fetchall()

    def close(self) -> None:
        self.con.close()

    def _quarantine_sql(self, model: Model, columns: list[str], everything: str) -> str:
        values = [c for c in columns if not c.startswith("_")]
        record = "to_json(struct_pack(" + ", ".join(f"{_ident(c)} := {_ident(c)}" for c in values) + "))"
        invalid = _ident(INVALID) if INVALID in columns else "CAST(NULL AS VARCHAR)"
        return (
            f"SELECT {_literal(model.table)} AS table_name, {DISPOSITION} AS reason, "
            f"_source_file AS source_file, _source_line AS source_line, _load_id AS load_id, "
            f"CAST({record} AS VARCHAR) AS record, {invalid} AS invalid "
            f"FROM {everything} WHERE {DISPOSITION} IS NOT NULL AND {DISPOSITION} <> '{SUPERSEDED}' "
            f"ORDER BY load_id, source_line"
        )

    def _copy(self, select: str, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        self.con.execute(
            f"COPY ({select}) TO {_literal(str(target))} (FORMAT parquet, COMPRESSION {self.compression})"
        )


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())[:300]
