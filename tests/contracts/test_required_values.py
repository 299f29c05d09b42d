"""A row without a value the contract requires is quarantined as ``missing_<column>`` by its
curated model: the contract's ``required`` list, run against the models themselves."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from insightflow.contracts import load_contracts
from insightflow.transform import DuckDBEngine, build_model, load_models
from tests.transform.test_golden_models import _input_table

GOLDEN = Path(__file__).parents[1] / "transform" / "golden"
CONTRACTS = load_contracts()


@pytest.mark.parametrize("source", CONTRACTS)
def test_a_row_missing_a_required_value_is_quarantined_under_its_reason(source: str, tmp_path: Path) -> None:
    contract = CONTRACTS[source]
    model = next(m for m in load_models() if m.driver == contract.table)
    case = yaml.safe_load((GOLDEN / f"{model.table.split('.')[1]}.yaml").read_text())
    base = {k: v for k, v in case["inputs"][contract.table][0].items() if not k.startswith("_")}
    rows, expected = [], []
    for line, column in enumerate((c for c in contract.columns if c.required), start=2):
        row = {**base, column.name: None, "_source_line": line}
        if column.name not in contract.natural_key:  # a key of its own: not a duplicate of another row
            row[contract.natural_key[0]] = 9000 + line
        rows.append(row)
        expected.append((line, f"missing_{model.output_name(column.name)}"))
    engine = DuckDBEngine()
    try:
        for name, inputs in case["inputs"].items():
            engine.register(_input_table(name, rows if name == contract.table else inputs, tmp_path))
        build = build_model(engine, model, tmp_path / "staging").result
    finally:
        engine.close()
    quarantined = pq.read_table(build.quarantine_files[0]).to_pylist()
    assert sorted((q["source_line"], q["reason"]) for q in quarantined) == expected
