"""DuckDB and Spark build the same lake: same tables, types, rows, quarantine and KPIs.

Each engine runs the whole pipeline into its own lake; the committed tables are then compared
row by row, sorted by key. Load ids are made of the ingest time, so each lake's are replaced by
the content hash of the file they loaded; floats are equal to 1e-9.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import duckdb
import pytest

from insightflow import Lakehouse
from insightflow.generate import generate
from insightflow.transform import load_models
from tests.transform.test_spark_engine import spark  # noqa: F401  (the shared SparkSession)

pytestmark = pytest.mark.spark

_KEYS = {m.table: list(m.key) for m in load_models()}
_QUARANTINE_KEY = ["table_name", "source_file", "source_line", "reason", "load_id"]
_LOAD_ID = ("_load_id", "load_id")


def _load_hashes(lake: Lakehouse) -> dict[str, str]:
    """Each load id of the lake -> the SHA-256 of the file it loaded (the same in both lakes)."""
    hashes = {}
    for name in (n for n in lake.catalog.table_names() if n.startswith("raw.")):
        files = list(lake.catalog.resolve(name).files)
        hashes |= dict(duckdb.sql(
            f"SELECT DISTINCT _load_id, _source_sha256 FROM read_parquet({files})"
        ).fetchall())
    return hashes


def _table(lake: Lakehouse, name: str, hashes: dict[str, str]) -> tuple[list[tuple], list[dict]]:
    """(column name and Iceberg type of each column, rows sorted by key) of a committed table."""
    schema = [(f.name, str(f.field_type)) for f in lake.catalog.load(name).schema().fields]
    files = list(lake.catalog.resolve(name).files)
    rows: list[dict] = []
    if files:
        result = duckdb.sql(f"SELECT * FROM read_parquet({files}, union_by_name = true)")
        rows = [dict(zip(result.columns, row, strict=True)) for row in result.fetchall()]
    for row in rows:
        for column in _LOAD_ID:
            if column in row:
                row[column] = hashes[row[column]]
        if "record" in row:  # quarantined values as JSON: compare the values, not the spelling
            row["record"] = json.loads(row["record"])
    key = _QUARANTINE_KEY if name.startswith("quarantine.") else _KEYS[name]
    return schema, sorted(rows, key=lambda r: tuple(str(r[k]) for k in key))


def _same(left: object, right: object) -> bool:
    if isinstance(left, float) and isinstance(right, float):
        return math.isclose(left, right, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_same(left[k], right[k]) for k in left)
    return left == right


def assert_same_lake(duck: Lakehouse, spark_lake: Lakehouse) -> None:
    names = [n for n in duck.catalog.table_names() if n.split(".")[0] in ("curated", "marts", "quarantine")]
    assert names == [
        n for n in spark_lake.catalog.table_names() if n.split(".")[0] in ("curated", "marts", "quarantine")
    ]
    assert {"curated.customer_dim", "marts.fact_sales", "marts.order_summary"} <= set(names)
    duck_hashes, spark_hashes = _load_hashes(duck), _load_hashes(spark_lake)
    for name in names:
        duck_schema, duck_rows = _table(duck, name, duck_hashes)
        spark_schema, spark_rows = _table(spark_lake, name, spark_hashes)
        assert spark_schema == duck_schema, name
        assert len(spark_rows) == len(duck_rows), name
        for expected, actual in zip(duck_rows, spark_rows, strict=True):
            differing = {c: (expected[c], actual[c]) for c in expected if not _same(expected[c], actual[c])}
            assert not differing, f"{name}: {differing}"
    assert _quarantine(spark_lake, spark_hashes) == _quarantine(duck, duck_hashes)
    assert spark_lake.kpis() == duck.kpis()


def _quarantine(lake: Lakehouse, hashes: dict[str, str]) -> list[tuple]:
    return sorted(
        (q["table"], q["reason"], q["source_file"], q["line"], hashes[q["load_id"]]) for q in lake.quarantine()
    )


@pytest.mark.reference
def test_spark_builds_the_reference_lake_duckdb_builds(
    reference_lake: Lakehouse, reference_dir: Path, spark, tmp_path: Path  # noqa: F811
) -> None:
    spark_lake = Lakehouse(tmp_path / "spark-lake")
    run = spark_lake.run(reference_dir, engine="spark", engine_options={"session": spark})
    assert (run.status, run.engine) == ("success", "spark")
    assert {t.name: t.rows for t in spark_lake.tables()}["marts.fact_sales"] == 159_763
    assert_same_lake(reference_lake, spark_lake)


def test_spark_quarantines_what_duckdb_quarantines(spark, tmp_path: Path) -> None:  # noqa: F811
    export = tmp_path / "dirty"
    generate(export, scale=0.02, seed=11, dirty=0.05)
    duck, spark_lake = Lakehouse(tmp_path / "duck"), Lakehouse(tmp_path / "spark")
    duck.run(export)
    spark_lake.run(export, engine="spark", engine_options={"session": spark})
    assert len(duck.quarantine()) > 100  # every kind of defect, and duplicates within a load
    assert {q["reason"] for q in duck.quarantine()} >= {"duplicate_key", "invalid_value", "orphan_product"}
    assert_same_lake(duck, spark_lake)
