"""Golden cases: input rows -> expected published and quarantined rows, one YAML file per model.

One generic runner builds the model from the case's input tables, on any engine (DuckDB here, Spark
in ``test_spark_engine``). Expected rows list only the columns that matter for the case, and at
least the model's key (from its header); every published row must be listed.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from insightflow.contracts import LINEAGE_COLUMNS, load_contracts
from insightflow.lake import TableFiles
from insightflow.transform import DuckDBEngine, build_model, load_models
from insightflow.transform.engine import Engine

GOLDEN = sorted((Path(__file__).parent / "golden").glob("*.yaml"))
_ARROW = {"BIGINT": pa.int64(), "DOUBLE": pa.float64(), "VARCHAR": pa.string(), "DATE": pa.date32(),
          "TIMESTAMP": pa.timestamp("us")}


def _raw_schema(table: str) -> pa.Schema | None:
    for contract in load_contracts().values():
        if contract.table == table:
            fields = [(c.name, _ARROW[c.type]) for c in contract.columns]
            return pa.schema(fields + [(n, _ARROW[t]) for n, t in LINEAGE_COLUMNS.items()])
    return None


def _input_table(name: str, rows: list[dict], folder: Path) -> TableFiles:
    defaults = {"_load_id": "L1", "_source_file": "input.csv", "_source_line": 0, "_invalid": None,
                "_source_sha256": "0" * 64, "_ingested_at": datetime.datetime(2026, 1, 1)}
    schema = _raw_schema(name)
    if schema is not None:
        rows = [{**defaults, **row} for row in rows]
        table = pa.Table.from_pylist([{f.name: r.get(f.name) for f in schema} for r in rows], schema=schema)
    else:
        table = pa.Table.from_pylist(rows)
    path = folder / f"{name}.parquet"
    pq.write_table(table, path)
    return TableFiles(name, None, (str(path),), ())


@pytest.mark.parametrize("case_file", GOLDEN, ids=lambda p: p.stem)
def test_model_matches_golden_case(case_file: Path, tmp_path: Path) -> None:
    check_golden_case(case_file, tmp_path, DuckDBEngine())


def test_every_model_has_a_golden_case() -> None:
    cases = {yaml.safe_load(p.read_text())["model"] for p in GOLDEN}
    assert cases == {m.table for m in load_models()}


def check_golden_case(case_file: Path, tmp_path: Path, engine: Engine) -> None:
    """Build the case's model on ``engine`` (closed after) and compare with what the case expects."""
    case = yaml.safe_load(case_file.read_text())
    model = next(m for m in load_models() if m.table == case["model"])
    try:
        for name, rows in case["inputs"].items():
            engine.register(_input_table(name, rows, tmp_path))
        build = build_model(engine, model, tmp_path / "staging").result
    finally:
        engine.close()
    published = pq.read_table(build.published_files[0]).to_pylist()

    def key(row: dict) -> tuple:
        return tuple(str(row[column]) for column in model.key)

    by_key = {key(row): row for row in published}
    for expected in case["expected"]:
        assert key(expected) in by_key, f"{key(expected)} not published; published: {sorted(by_key)}"
        row = by_key[key(expected)]
        for column, value in expected.items():
            actual = row[column]
            if isinstance(value, float):
                assert actual == pytest.approx(value), column
            else:
                assert actual == value, f"{key(expected)}.{column}: {actual!r} != {value!r}"
    assert set(by_key) == {key(e) for e in case["expected"]}, "published rows the case does not expect"
    quarantined = pq.read_table(build.quarantine_files[0]).to_pylist() if build.quarantine_files else []
    assert sorted((q["source_line"], q["reason"]) for q in quarantined) == sorted(
        (q["line"], q["reason"]) for q in case.get("quarantined", [])
    )
    assert build.superseded == case.get("superseded", 0)
