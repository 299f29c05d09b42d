"""Read the lake with DuckDB: tables resolved to the snapshots of the last successful run.

``as_of`` picks another point in time: a run id (that run's snapshots), a snapshot id (of the
tables that have it), or an ISO timestamp (each table as it was then). Tables that no successful
run published yet (raw tables after ``ingest``) resolve to their current snapshot.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

import duckdb
import pyarrow as pa
import sqlglot
from sqlglot import exp

from insightflow.errors import LakeError, TableNotFound
from insightflow.lake import LakeCatalog, TableFiles, last_published
from insightflow.query.cache import CatalogState, TableCache
from insightflow.query.errors import QueryError
from insightflow.query.sandbox import (
    CheckedStatement,
    Limits,
    SandboxPool,
    check_statement,
    run_statement,
)
from insightflow.quoting import ident, table_ident

# Internal queries (KPIs, quarantine) are trusted SQL but still run in the sandbox, unbounded.
_TRUSTED = Limits(max_rows=10_000_000, timeout_seconds=300.0, memory_limit="8GB", max_bytes=2**62)


@dataclass
class QueryResult:
    """The answer to one query: columns, rows (also as Arrow), and whether rows were cut."""

    columns: list[str]
    rows: list[tuple]
    arrow: pa.Table
    truncated: bool = False
    snapshots: dict[str, int | None] = field(default_factory=dict)


class LakeReader:
    """Resolves catalog tables for queries, at the published run or at ``as_of``."""

    def __init__(
        self,
        catalog: LakeCatalog | CatalogState,
        as_of: str | None = None,
        *,
        cache: TableCache | None = None,
        pool: SandboxPool | None = None,
    ) -> None:
        self.catalog = catalog if isinstance(catalog, CatalogState) else CatalogState(catalog)
        self.cache = cache or TableCache(storage=self.catalog.catalog.storage)
        self.pool = pool or SandboxPool(max_idle=1)
        self.snapshots = self._pinned_snapshots(as_of)
        self.as_of_time = _parse_time(as_of) if as_of and not self._is_run_or_snapshot(as_of) else None

    def resolve(self, name: str) -> TableFiles:
        if not self.catalog.exists(name):
            raise TableNotFound(f"no table {name}; `insightflow tables` lists them")
        if self.as_of_time is not None:
            return self.catalog.resolve(name, self._snapshot_at(name, self.as_of_time))
        return self.catalog.resolve(name, self.snapshots.get(name))

    @contextmanager
    def connect(self, tables: tuple[str, ...], *, masked: bool = False, limits: Limits = _TRUSTED,
                relations: dict[str, pa.Table] | None = None,
                ) -> Iterator[tuple[duckdb.DuckDBPyConnection, dict]]:
        """A sandboxed DuckDB with a view per table at its resolved snapshot; (connection, snapshots).

        ``relations`` adds trusted derived data under ``schema.name`` (e.g. ``kpi.lines``).
        """
        resolved = [self.resolve(name) for name in tables]
        data = {t.name: self.cache.data(t, masked) for t in resolved} | (relations or {})
        con = self.pool.acquire(limits)
        views: list[tuple[str, str]] = []
        reusable = False
        try:
            for schema in sorted({name.split(".")[0] for name in data}):
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {ident(schema)}")
            for index, (name, rows) in enumerate(data.items()):
                hidden = f"__table_{index}"
                con.register(hidden, rows)
                views.append((table_ident(name), hidden))
                con.execute(f"CREATE OR REPLACE VIEW {views[-1][0]} AS SELECT * FROM {ident(hidden)}")
            yield con, {t.name: t.snapshot_id for t in resolved}
            reusable = True
        finally:
            self.pool.release(con, limits, views, reusable)

    def run(self, sql: str, *, params: dict | None = None, limits: Limits = Limits(),
            masked: bool = False, check: bool = True,
            relations: dict[str, pa.Table] | None = None) -> QueryResult:
        """Run one statement in the sandbox; ``check`` applies the allow-list (user SQL)."""
        if check:
            statement = check_statement(sql, set(self.catalog.table_names()))
        else:
            tables = tuple(t for t in referenced_tables(sql) if t not in (relations or {}))
            statement = CheckedStatement(sql, tables, bounded=True)
        with self.connect(statement.tables, masked=masked, limits=limits,
                          relations=relations) as (con, snapshots):
            data, truncated = run_statement(con, statement, params, limits)
        columns = data.column_names
        values = [data.column(i).to_pylist() for i in range(data.num_columns)]
        rows = list(zip(*values, strict=True)) if values else []
        return QueryResult(columns, rows, data, truncated, snapshots)

    def materialize(self, sql: str) -> pa.Table:
        """The result of trusted ``sql``, computed once per snapshot of the tables it reads."""
        key = ("derived", sql, tuple((t, self.resolve(t).snapshot_id) for t in referenced_tables(sql)))
        return self.cache.derived(key, lambda: self.run(sql, limits=_TRUSTED, check=False).arrow)

    def query(self, sql: str, params: dict | None = None) -> tuple[list[str], list[tuple]]:
        """Run trusted SQL (KPIs, quarantine) over the lake's tables; (column names, rows)."""
        result = self.run(sql, params=params, limits=_TRUSTED, check=False)
        return result.columns, result.rows

    def _pinned_snapshots(self, as_of: str | None) -> dict[str, int]:
        runs = self.catalog.runs()
        if as_of is None:
            run = last_published(runs)
            return dict(run.snapshots) if run else {}
        for run in runs:
            if run.run_id == as_of:
                return dict(run.snapshots)
        if _is_snapshot_id(as_of):
            pinned = {}
            for name in self.catalog.table_names():
                if any(s.snapshot_id == int(as_of) for s in self.catalog.snapshots(name)):
                    pinned[name] = int(as_of)
            if not pinned:
                raise LakeError(f"no table has snapshot {as_of}; `insightflow history` lists runs")
            published = last_published(runs)
            return {**(published.snapshots if published else {}), **pinned}
        return {}

    def _is_run_or_snapshot(self, as_of: str) -> bool:
        return _is_snapshot_id(as_of) or any(r.run_id == as_of for r in self.catalog.runs())

    def _snapshot_at(self, name: str, when: datetime) -> int | None:
        before = [s for s in self.catalog.snapshots(name) if s.committed_at <= when]
        if not before:
            raise LakeError(f"table {name} did not exist yet at {when.isoformat()}")
        return before[-1].snapshot_id


def _is_snapshot_id(as_of: str) -> bool:
    return as_of.isascii() and as_of.isdigit()  # not "²", which str.isdigit() takes for a digit


def referenced_tables(sql: str) -> list[str]:
    """The ``schema.table`` names a statement reads (CTE names excluded)."""
    return list(_referenced_tables(sql))


@lru_cache(maxsize=256)
def _referenced_tables(sql: str) -> tuple[str, ...]:
    try:
        statements = [s for s in sqlglot.parse(sql, dialect="duckdb") if s is not None]
    except sqlglot.errors.ParseError as error:
        raise QueryError(f"cannot parse the SQL: {str(error).splitlines()[0]}") from None
    except RecursionError:
        raise QueryError("the SQL is nested too deeply (parentheses or subqueries)") from None
    names = set()
    for statement in statements:
        ctes = {cte.alias_or_name for cte in statement.find_all(exp.CTE)}
        for table in statement.find_all(exp.Table):
            if table.name and (table.db or table.name not in ctes):
                if not table.db:
                    raise QueryError(
                        f"table {table.name!r} needs its schema, e.g. marts.{table.name} "
                        "(`insightflow tables` lists them)"
                    )
                names.add(f"{table.db}.{table.name}")
    return tuple(sorted(names))


def _parse_time(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise QueryError(
            f"--as-of {value!r} is neither a run id, a snapshot id nor an ISO timestamp"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
