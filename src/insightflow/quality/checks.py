"""Checks are queries that return the offending rows: zero rows means the check passes.

They are declared in each model's header (``checks:``), in the spirit of dbt tests::

    - {check: unique, columns: [customer_id]}
    - {check: not_null, columns: [customer_id, customer_segment]}
    - {check: accepted_values, column: customer_category, values: [High Value, Low Value]}
    - {check: relationships, column: customer_id, to: curated.customer_dim, field: customer_id}
    - {check: range, column: shipping_days, min: 0, max: 30}
    - {check: reconcile, expression: sum(gross_sales), against: "SELECT sum(...) AS total FROM ..."}
    - {check: freshness, column: shipping_date, max_age_days: 2, severity: warn}
    - {check: volume, max_change: 0.5, severity: warn}   # row count against the last good run

Each may carry ``severity: warn``; the default, ``error``, blocks publishing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from insightflow.errors import ModelError
from insightflow.quoting import ident, literal, table_ident

EXAMPLES = 5


@dataclass
class CheckResult:
    """The outcome of one check on one table."""

    table: str
    name: str
    severity: str
    failing_rows: int
    examples: list[dict] = field(default_factory=list)
    columns: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.failing_rows == 0

    @property
    def blocking(self) -> bool:
        return not self.passed and self.severity == "error"

    def describe(self) -> str:
        """One line: the check, its table, how many rows fail and up to 5 of them (compactly)."""
        keep = {*self.columns, "_source_file", "_source_line", "occurrences", "rows"}
        shown = "; ".join(
            ", ".join(f"{k}={v}" for k, v in e.items() if not self.columns or k in keep) for e in self.examples
        )
        return f"{self.table}: {self.name} failed on {self.failing_rows} rows (e.g. {shown})"


def check_record(result: CheckResult) -> dict:
    """A check result as stored with its run in ``ops.runs`` (JSON-safe)."""
    return {
        "table": result.table,
        "check": result.name,
        "severity": result.severity,
        "status": "pass" if result.passed else ("fail" if result.blocking else "warn"),
        "failing_rows": result.failing_rows,
        "examples": [{k: str(v) for k, v in e.items()} for e in result.examples],
    }


def _columns(spec: dict) -> list[str]:
    columns = spec.get("columns", spec.get("column"))
    return [columns] if isinstance(columns, str) else list(columns)


def _unique(table: str, spec: dict) -> str:
    cols = ", ".join(map(ident, _columns(spec)))
    return f"SELECT {cols}, count(*) AS occurrences FROM {table} GROUP BY {cols} HAVING count(*) > 1"


def _not_null_rows(spec: dict) -> str:
    return " OR ".join(f"{ident(c)} IS NULL" for c in _columns(spec))


def _accepted_values_rows(spec: dict) -> str:
    values = ", ".join(literal(str(v)) for v in spec["values"])
    return f"{ident(spec['column'])} NOT IN ({values})"


def _range_rows(spec: dict) -> str:
    column = ident(spec["column"])
    bounds = []
    if "min" in spec:
        bounds.append(f"{column} < {float(spec['min'])}")
    if "max" in spec:
        bounds.append(f"{column} > {float(spec['max'])}")
    if "above" in spec:
        bounds.append(f"{column} <= {float(spec['above'])}")
    return " OR ".join(bounds)


def _not_null(table: str, spec: dict) -> str:
    return f"SELECT * FROM {table} WHERE {_not_null_rows(spec)}"


def _accepted_values(table: str, spec: dict) -> str:
    column = ident(spec["column"])
    return f"SELECT {column}, count(*) AS rows FROM {table} WHERE {_accepted_values_rows(spec)} GROUP BY 1"


def _relationships(table: str, spec: dict) -> str:
    # An anti join written as LEFT JOIN ... IS NULL: the same rows as NOT EXISTS, planned as one
    # hash join over the key columns (DuckDB decorrelates NOT EXISTS over a view by materializing
    # every child column first).
    column, target, field_ = ident(spec["column"]), table_ident(spec["to"]), ident(spec["field"])
    return (
        f"SELECT child.{column} FROM {table} AS child "
        f"LEFT JOIN {target} AS parent ON parent.{field_} = child.{column} "
        f"WHERE child.{column} IS NOT NULL AND parent.{field_} IS NULL"
    )


def _range(table: str, spec: dict) -> str:
    return f"SELECT * FROM {table} WHERE {_range_rows(spec)}"


def _reconcile(table: str, spec: dict) -> str:
    # Totals of the table against the same totals computed from its source: a fan-out in a join
    # or a corrupted measure shows here even when every row looks valid.
    tolerance = float(spec.get("tolerance", 0.01))
    return (
        f"SELECT mine.total AS table_total, theirs.total AS source_total "
        f"FROM (SELECT {spec['expression']} AS total FROM {table}) AS mine, ({spec['against']}) AS theirs "
        f"WHERE abs(coalesce(mine.total, 0) - coalesce(theirs.total, 0)) > {tolerance}"
    )


def _freshness(table: str, spec: dict) -> str:
    column, days = ident(spec["column"]), int(spec["max_age_days"])
    return (
        f"SELECT max({column}) AS newest, CURRENT_DATE AS run_date FROM {table} "
        f"HAVING max({column}) < CURRENT_DATE - INTERVAL {days} DAY"
    )


def _volume(table: str, spec: dict) -> str:
    previous, share = int(spec["previous_rows"]), float(spec.get("max_change", 0.5))
    return (
        f"SELECT count(*) AS current_rows, {previous} AS previous_rows FROM {table} "
        f"HAVING abs(count(*) - {previous}) > {share} * {previous}"
    )


_CHECKS: dict[str, Callable[[str, dict], str]] = {
    "unique": _unique,
    "not_null": _not_null,
    "accepted_values": _accepted_values,
    "relationships": _relationships,
    "range": _range,
    "reconcile": _reconcile,
    "freshness": _freshness,
    "volume": _volume,
}


#: Checks decided row by row: the condition a failing row meets. They are counted together, in one
#: scan of the table (examples are then fetched only for those that fail).
_ROW_CONDITIONS: dict[str, Callable[[dict], str]] = {
    "not_null": _not_null_rows,
    "accepted_values": _accepted_values_rows,
    "range": _range_rows,
}


def check_name(spec: dict) -> str:
    if spec["check"] == "reconcile":
        return f"reconcile({spec['expression']})"
    if spec["check"] == "volume":
        return f"volume(max_change={spec.get('max_change', 0.5)})"
    target = ",".join(_columns(spec)) if ("columns" in spec or "column" in spec) else ""
    suffix = f"->{spec['to']}" if spec["check"] == "relationships" else ""
    return f"{spec['check']}({target}){suffix}"


def check_sql(table: str, spec: dict) -> str:
    """The query returning the rows of ``table`` that violate ``spec``."""
    try:
        build = _CHECKS[spec["check"]]
    except KeyError:
        raise ModelError(f"{table}: unknown check {spec.get('check')!r}") from None
    return build(table_ident(table), spec)


def run_checks(
    table: str,
    specs: tuple[dict, ...],
    query: Callable[[str], tuple[list[str], list[tuple]]],
    previous_rows: int | None = None,
) -> list[CheckResult]:
    """Run every check of a table; ``query`` returns (column names, rows) for a SELECT.

    ``previous_rows`` is the table's row count in the last successful run; without one, a
    ``volume`` check has nothing to compare with and is not run.
    """
    specs = tuple({**spec, "previous_rows": previous_rows} if spec["check"] == "volume" else spec
                  for spec in specs if spec["check"] != "volume" or previous_rows is not None)
    row_specs = [spec for spec in specs if spec["check"] in _ROW_CONDITIONS]
    counts: dict[int, int] = {}
    if row_specs:
        filters = ", ".join(f"count(*) FILTER (WHERE {_ROW_CONDITIONS[spec['check']](spec)})" for spec in row_specs)
        row = query(f"SELECT {filters} FROM {table_ident(table)}")[1][0]
        counts = {id(spec): int(n or 0) for spec, n in zip(row_specs, row, strict=True)}
    results = []
    for spec in specs:
        sql = check_sql(table, spec)
        if id(spec) in counts:
            count = counts[id(spec)]
        else:
            count = query(f"SELECT count(*) FROM ({sql}) AS offending")[1][0][0]
        examples: list[dict] = []
        if count:
            names, rows = query(f"SELECT * FROM ({sql}) AS offending LIMIT {EXAMPLES}")
            examples = [dict(zip(names, row, strict=True)) for row in rows]
        columns = tuple(_columns(spec)) if ("columns" in spec or "column" in spec) else ()
        results.append(
            CheckResult(table, check_name(spec), spec.get("severity", "error"), count, examples, columns)
        )
    return results
