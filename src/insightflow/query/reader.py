"""Read the lake with DuckDB: tables resolved to the snapshots of the last successful run.

``as_of`` picks another point in time: a run id (that run's snapshots), a snapshot id (of the
tables that have it), or an ISO timestamp (each table as it was then). Tables that no successful
run published yet (raw tables after ``ingest``) resolve to their current snapshot.
"""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import sqlglot
from sqlglot import exp

from insightflow.errors import InsightFlowError, LakeError, TableNotFound
from insightflow.lake import LakeCatalog, TableFiles, last_successful_run, list_runs
from insightflow.quoting import ident, table_ident
from insightflow.transform.duckdb_engine import relation_sql


class QueryError(InsightFlowError):
    """A query cannot be run (bad SQL, unknown table)."""

    exit_code = 2


class LakeReader:
    """Resolves catalog tables for queries, at the published run or at ``as_of``."""

    def __init__(self, catalog: LakeCatalog, as_of: str | None = None) -> None:
        self.catalog = catalog
        self.snapshots = self._pinned_snapshots(as_of)
        self.as_of_time = _parse_time(as_of) if as_of and not self._is_run_or_snapshot(as_of) else None

    def resolve(self, name: str) -> TableFiles:
        if not self.catalog.exists(name):
            raise TableNotFound(f"no table {name}; `insightflow tables` lists them")
        if self.as_of_time is not None:
            return self.catalog.resolve(name, self._snapshot_at(name, self.as_of_time))
        return self.catalog.resolve(name, self.snapshots.get(name))

    def connect(self, tables: list[str]) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB connection with a view per table, each at its resolved snapshot."""
        con = duckdb.connect()
        for schema in sorted({t.split(".")[0] for t in tables}):
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {ident(schema)}")
        for name in tables:
            con.execute(f"CREATE VIEW {table_ident(name)} AS {relation_sql(self.resolve(name))}")
        return con

    def query(self, sql: str, params: list | None = None) -> tuple[list[str], list[tuple]]:
        """Run one read-only statement over the lake's tables; (column names, rows)."""
        tables = referenced_tables(sql)
        con = self.connect(tables)
        try:
            cursor = con.execute(sql, params or [])
            return [d[0] for d in cursor.description], cursor.fetchall()
        except duckdb.Error as error:
            raise QueryError(" ".join(str(error).split())) from None
        finally:
            con.close()

    def _pinned_snapshots(self, as_of: str | None) -> dict[str, int]:
        if as_of is None:
            run = last_successful_run(self.catalog)
            return dict(run.snapshots) if run else {}
        for run in list_runs(self.catalog):
            if run.run_id == as_of:
                return dict(run.snapshots)
        if as_of.isdigit():
            pinned = {}
            for name in self.catalog.table_names():
                if any(s.snapshot_id == int(as_of) for s in self.catalog.snapshots(name)):
                    pinned[name] = int(as_of)
            if not pinned:
                raise LakeError(f"no table has snapshot {as_of}; `insightflow history` lists runs")
            published = last_successful_run(self.catalog)
            return {**(published.snapshots if published else {}), **pinned}
        return {}

    def _is_run_or_snapshot(self, as_of: str) -> bool:
        return as_of.isdigit() or any(r.run_id == as_of for r in list_runs(self.catalog))

    def _snapshot_at(self, name: str, when: datetime) -> int | None:
        before = [s for s in self.catalog.snapshots(name) if s.committed_at <= when]
        if not before:
            raise LakeError(f"table {name} did not exist yet at {when.isoformat()}")
        return before[-1].snapshot_id


def referenced_tables(sql: str) -> list[str]:
    """The ``schema.table`` names a statement reads (CTE names excluded)."""
    try:
        statements = [s for s in sqlglot.parse(sql, dialect="duckdb") if s is not None]
    except sqlglot.errors.ParseError as error:
        raise QueryError(f"cannot parse the SQL: {str(error).splitlines()[0]}") from None
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
    return sorted(names)


def _parse_time(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise QueryError(
            f"--as-of {value!r} is neither a run id, a snapshot id nor an ISO timestamp"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
