"""Time travel and rollback: after a second run on changed data, old figures stay reachable."""

from __future__ import annotations

from pathlib import Path

from insightflow import Lakehouse
from tests.exports import ORDERS, write_export


def test_as_of_and_rollback_restore_the_pre_change_figures(tmp_path: Path) -> None:
    lake = Lakehouse(tmp_path / "lake")
    first = lake.run(write_export(tmp_path / "day1"))
    before = lake.kpis()
    changed = [row[:3] + ["7"] + row[4:] if row[1] == "1" else row for row in ORDERS]  # order 1: 7 units
    second = lake.run(write_export(tmp_path / "day2", {"orders": changed}))
    after = lake.kpis()
    assert after["products_ordered"] == before["products_ordered"] + 6
    assert after["gross_sales"] > before["gross_sales"]

    assert lake.kpis(as_of=first.run_id) == before
    assert lake.kpis(as_of=str(first.snapshots["marts.fact_sales"]))["gross_sales"] == before["gross_sales"]
    assert lake.kpis(as_of=second.run_id) == after
    columns, rows = lake.sql("SELECT sum(order_quantity) AS q FROM marts.fact_sales", as_of=first.run_id)
    assert rows == [(before["products_ordered"],)]

    changed_tables = [t for t, s in first.snapshots.items() if second.snapshots.get(t) != s
                      and not t.startswith(("raw.", "ops."))]
    for table in changed_tables:
        lake.rollback(table, first.snapshots[table])
    assert lake.kpis() == before
    published = [s for s in lake.snapshots("marts.fact_sales") if s["published"]]
    assert published[-1]["rollback_to"] == str(first.snapshots["marts.fact_sales"])
    assert lake.history()[-1].kind == "rollback"

    # a rollback is a commit like any other: it can itself be undone
    for table in changed_tables:
        lake.rollback(table, second.snapshots[table])
    assert lake.kpis() == after
