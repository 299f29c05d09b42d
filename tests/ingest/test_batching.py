"""Many small files of one source: one commit per table, not one per file."""

from __future__ import annotations

from pathlib import Path

from insightflow import Lakehouse
from tests.exports import CUSTOMERS, DELIVERIES, ORDERS, PRODUCTS, csv_text, write_export


def test_a_run_commits_each_table_once_however_many_files(tmp_path: Path) -> None:
    export = write_export(tmp_path / "export")
    for i in range(200):  # one order line a file, as a feed drops them
        line = ["1", str(1000 + i), "1360", "1", "0", "0", "0.1", "CASH", "CLOSED", "10"]
        (export / f"orders-{i:04d}.csv").write_text(csv_text("orders", [line]), encoding="utf-8")
    lake = Lakehouse(tmp_path / "lake")
    run = lake.run(export)
    assert run.status == "success"
    assert [s["operation"] for s in lake.snapshots("raw.orders")] == ["append"]
    assert lake.sql("SELECT count(*), count(DISTINCT _load_id) FROM raw.orders")[1] == [(len(ORDERS) + 200, 201)]
    ingest = next(s for s in run.steps if s["step"] == "ingest")
    assert ingest["rows"] == len(CUSTOMERS) + len(PRODUCTS) + len(ORDERS) + 200 + len(DELIVERIES)
