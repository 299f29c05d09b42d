"""Each kind of check finds exactly the offending rows, and severities decide what blocks."""

from __future__ import annotations

import duckdb
import pytest

from insightflow.quality import check_record, run_checks


@pytest.fixture
def query():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA marts; CREATE SCHEMA curated")
    con.execute(
        "CREATE TABLE curated.lines AS SELECT * FROM (VALUES (1, 10, 2.0), (2, 20, 3.0), (3, 30, 4.0)) "
        "AS t(order_id, qty, price)"
    )
    # a fact with a fan-out: order 1 twice
    con.execute(
        "CREATE TABLE marts.fact AS SELECT * FROM (VALUES (1, 10, DATE '2015-01-01'), (1, 10, DATE '2015-01-01'),"
        " (2, 20, NULL), (3, -30, DATE '2018-12-31')) AS t(order_id, qty, shipped)"
    )

    def run(sql: str) -> tuple[list[str], list[tuple]]:
        cursor = con.execute(sql)
        return [d[0] for d in cursor.description], cursor.fetchall()

    return run


def _result(query, spec: dict, previous_rows: int | None = None):
    results = run_checks("marts.fact", (spec,), query, previous_rows)
    return results[0] if results else None


def test_sql_checks_count_the_offending_rows(query) -> None:
    assert _result(query, {"check": "unique", "columns": ["order_id"]}).failing_rows == 1
    assert _result(query, {"check": "not_null", "columns": ["shipped"]}).failing_rows == 1
    assert _result(query, {"check": "range", "column": "qty", "min": 1}).failing_rows == 1
    assert _result(query, {"check": "range", "column": "qty", "above": 10}).failing_rows == 3
    assert _result(query, {"check": "accepted_values", "column": "order_id", "values": [1, 2]}).failing_rows == 1
    orphan = {"check": "relationships", "column": "order_id", "to": "curated.lines", "field": "order_id"}
    assert _result(query, orphan).failing_rows == 0


def test_reconcile_catches_a_fan_out(query) -> None:
    spec = {"check": "reconcile", "expression": "sum(qty)",
            "against": "SELECT sum(qty) AS total FROM curated.lines"}
    result = _result(query, spec)
    assert result.failing_rows == 1 and result.blocking
    assert result.examples == [{"table_total": 10, "source_total": 60}]


def test_freshness_and_volume_warn_without_blocking(query) -> None:
    stale = _result(query, {"check": "freshness", "column": "shipped", "max_age_days": 30, "severity": "warn"})
    assert stale.failing_rows == 1 and not stale.blocking
    assert check_record(stale)["status"] == "warn"
    fresh = _result(query, {"check": "freshness", "column": "shipped", "max_age_days": 100_000})
    assert fresh.passed
    volume = {"check": "volume", "max_change": 0.5, "severity": "warn"}
    assert _result(query, volume) is None  # no previous run: nothing to compare with
    assert _result(query, volume, previous_rows=4).passed
    assert _result(query, volume, previous_rows=20).failing_rows == 1
    assert _result(query, volume, previous_rows=2).failing_rows == 1  # doubled: flagged too
