"""The DuckDB engine: the embedded default, fast on one machine."""

from __future__ import annotations

from pathlib import Path

import duckdb

from insightflow.errors import ModelError, one_line
from insightflow.lake import TableFiles
from insightflow.lake.storage import LakeStorage, connect_storage
from insightflow.quoting import ident, literal, table_ident

# Functions the models use that DuckDB lacks, defined as macros (Spark has them natively).
# initcap splits into words only when there is a space: most values are one word, and the split,
# lambda and join cost ~10x the direct expression (which gives the same result for one word).
_MACROS = (
    "CREATE OR REPLACE MACRO initcap(s) AS CASE WHEN contains(s, ' ') THEN "
    "array_to_string(list_transform(string_split(s, ' '), lambda w: upper(w[1]) || lower(w[2:])), ' ') "
    "ELSE upper(s[1]) || lower(s[2:]) END",
)
_SCHEMAS = ("raw", "curated", "marts", "quarantine", "ops", "work")


def relation_sql(table: TableFiles) -> str:
    """A SELECT over a resolved table's Parquet files (typed and empty when it has none)."""
    if not table.files:
        columns = ", ".join(f"CAST(NULL AS {t}) AS {ident(c)}" for c, t in table.columns)
        return f"SELECT {columns} WHERE false"
    files = ", ".join(literal(f) for f in table.files)
    return f"SELECT * FROM read_parquet([{files}], union_by_name = true)"


class DuckDBEngine:
    """Runs the models in one in-process DuckDB database (in memory, spilling to ``temp_directory``).

    Args:
        threads: threads DuckDB may use (default: one per core).
        memory_limit: DuckDB's memory bound, e.g. ``"3GB"``; beyond it, operators spill to disk.
        temp_directory: where they spill (the lake's ``tmp/`` in a run).
        compression: Parquet codec of the staged files.
        storage: the lake's storage; on an object store, DuckDB reads and writes it through it.
    """

    name = "duckdb"
    label = "DuckDB"

    def __init__(self, *, threads: int | None = None, memory_limit: str | None = None,
                 temp_directory: str | None = None, compression: str = "zstd",
                 storage: LakeStorage | None = None) -> None:
        self.compression = compression
        self.con = duckdb.connect()
        self._kinds: dict[str, str] = {}  # relation -> TABLE or VIEW
        # Models never rely on row order; letting DuckDB write and join out of order is faster.
        self.con.execute("SET preserve_insertion_order = false")
        self.con.execute("SET enable_progress_bar = false")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        if memory_limit:
            self.con.execute(f"SET memory_limit = {literal(memory_limit)}")
        if temp_directory:
            self.con.execute(f"SET temp_directory = {literal(temp_directory)}")
        if storage is not None and storage.remote:
            connect_storage(self.con, storage)
        self.remote = storage is not None and storage.remote
        # On an object store, what the engine wrote is kept in memory too (a staged file -> the
        # table holding its rows): the models and checks after it read it from there, not back
        # through the store (each read a round of HTTP requests through Python).
        self._written: dict[str, str] = {}
        for schema in _SCHEMAS:
            self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {ident(schema)}")
        for macro in _MACROS:
            self.con.execute(macro)

    def register(self, table: TableFiles, name: str | None = None) -> None:
        if table.files and all(f in self._written for f in table.files):
            sql = " UNION ALL ".join(f"SELECT * FROM {table_ident(self._written[f])}" for f in table.files)
            self.drop(name or table.name)
            self._run(f"CREATE VIEW {table_ident(name or table.name)} AS {sql}")
            self._kinds[name or table.name] = "VIEW"
            return
        sql = relation_sql(table)
        if table.files and table.columns:
            # older files may lack columns added since (schema drift): read them as NULL
            present = set(self.columns(sql))
            columns = [ident(c) if c in present else f"CAST(NULL AS {t}) AS {ident(c)}" for c, t in table.columns]
            extra = [ident(c) for c in self.columns(sql) if c not in dict(table.columns)]
            sql = f"SELECT {', '.join(columns + extra)} FROM ({sql}) AS files"
        self.drop(name or table.name)
        self._run(f"CREATE VIEW {table_ident(name or table.name)} AS {sql}")
        self._kinds[name or table.name] = "VIEW"

    def create(self, name: str, sql: str, *, materialize: bool = False) -> None:
        kind = "TABLE" if materialize else "VIEW"
        self.drop(name)  # it may have been the other kind
        self._run(f"CREATE {kind} {table_ident(name)} AS {sql}")
        self._kinds[name] = kind

    def drop(self, name: str) -> None:
        kind = self._kinds.pop(name, None)
        if kind:
            self._run(f"DROP {kind} IF EXISTS {table_ident(name)}")

    def columns(self, sql: str) -> list[str]:
        return [row[0] for row in self._run(f"DESCRIBE {sql}").fetchall()]

    def query(self, sql: str) -> tuple[list[str], list[tuple]]:
        cursor = self._run(sql)
        return [d[0] for d in cursor.description], cursor.fetchall()

    def write(self, sql: str, folder: str, order_by: tuple[str, ...] = ()) -> list[str]:
        if not self.remote:
            Path(folder).mkdir(parents=True, exist_ok=True)
        target = f"{folder}/part-00000.parquet"
        ordered = f"{sql} ORDER BY {', '.join(map(ident, order_by))}" if order_by else sql
        if self.remote:
            kept = f"work.written_{len(self._written)}"
            self.create(kept, ordered, materialize=True)
            ordered = f"SELECT * FROM {table_ident(kept)}" + (
                f" ORDER BY {', '.join(map(ident, order_by))}" if order_by else "")
            self._written[target] = kept
        self._run(f"COPY ({ordered}) TO {literal(str(target))} (FORMAT parquet, COMPRESSION {self.compression})")
        return [target]

    def close(self) -> None:
        self.con.close()

    def _run(self, sql: str) -> duckdb.DuckDBPyConnection:
        try:
            return self.con.execute(sql)
        except duckdb.Error as error:
            raise ModelError(one_line(error)) from None
