"""The source contracts are the one source of what is required and what identifies a row: the
curated models, their checks and the generator's defects say the same as ``sources.yaml``."""

from __future__ import annotations

from importlib import resources

import pytest
import sqlglot
from sqlglot import exp

from insightflow.contracts import SourceContract, load_contracts, parse_contracts
from insightflow.errors import ContractError, ModelError
from insightflow.generate.defects import (
    CUSTOMER_DEFECTS,
    DELIVERY_DEFECTS,
    ORDER_DEFECTS,
    PRODUCT_DEFECTS,
)
from insightflow.transform.models import REASON, Model, load_models, parse_model

DEFECTS = {"customers": CUSTOMER_DEFECTS, "products": PRODUCT_DEFECTS, "orders": ORDER_DEFECTS,
           "deliveries": DELIVERY_DEFECTS}
CONTRACTS = load_contracts()
#: Each source's curated model: the one its raw table drives.
CURATED = {c.source: next(m for m in load_models() if m.driver == c.table) for c in CONTRACTS.values()}


def quarantine_reasons(model: Model) -> list[str]:
    """The reason codes of the model's ``_reason`` CASE, in order."""
    select = sqlglot.parse_one(model.sql, dialect="duckdb")
    reason = next(p for p in select.expressions if p.alias_or_name == REASON)
    case = reason.this
    assert isinstance(case, exp.Case), f"{model.table}: {REASON} is not a CASE"
    return [branch.args["true"].name for branch in case.args["ifs"]]


def missing_reasons(contract: SourceContract, model: Model) -> dict[str, str]:
    """{raw column: reason} the contract's required columns imply for the model."""
    return {c.name: f"missing_{model.output_name(c.name)}" for c in contract.columns if c.required}


@pytest.mark.parametrize("source", CONTRACTS)
def test_a_model_quarantines_exactly_the_required_columns_missing(source: str) -> None:
    contract, model = CONTRACTS[source], CURATED[source]
    declared = [r for r in quarantine_reasons(model) if r.startswith("missing_")]
    assert len(declared) == len(set(declared)), declared
    assert set(declared) == set(missing_reasons(contract, model).values()), (
        f"{model.table} quarantines {sorted(declared)}; the required columns of {source} in sources.yaml "
        f"imply {sorted(missing_reasons(contract, model).values())}")


@pytest.mark.parametrize("source", CONTRACTS)
def test_a_missing_reason_tests_its_column_for_null(source: str) -> None:
    contract, model = CONTRACTS[source], CURATED[source]
    select = sqlglot.parse_one(model.sql, dialect="duckdb")
    case = next(p for p in select.expressions if p.alias_or_name == REASON).this
    conditions = {branch.args["true"].name: branch.this for branch in case.args["ifs"]}
    for column, reason in missing_reasons(contract, model).items():
        tested = {n.this.name for n in conditions[reason].find_all(exp.Is) if isinstance(n.expression, exp.Null)}
        # the raw column itself, or the model's cleaned value of it (``segment`` for customer_segment)
        names = {column} | {inner for inner, out in model.renames.items() if out == model.output_name(column)}
        assert tested & names, f"{model.table}: {reason} tests {sorted(tested)} for NULL, not {column}"


@pytest.mark.parametrize("source", CONTRACTS)
def test_a_curated_key_is_the_contract_natural_key(source: str) -> None:
    contract, model = CONTRACTS[source], CURATED[source]
    natural = tuple(model.output_name(c) for c in contract.natural_key)
    assert model.latest_per_key and model.driver_key == contract.natural_key
    assert model.key == natural
    unique = [tuple(c["columns"]) for c in model.checks if c["check"] == "unique"]
    assert unique == [natural], f"{model.table} checks unique {unique}, its natural key is {natural}"


@pytest.mark.parametrize("source", CONTRACTS)
def test_the_generator_blanks_the_required_columns_under_the_model_reasons(source: str) -> None:
    """Every required column but the natural key has a ``null_required`` defect, expecting the
    model's reason (the generator does not blank keys; test_required_values covers them)."""
    contract, model = CONTRACTS[source], CURATED[source]
    by_header = {c.source: c for c in contract.columns}
    blanked = {d.column: d.reason for d in DEFECTS[source] if d.kind == "null_required"}
    assert all(h in by_header and by_header[h].required for h in blanked), (
        f"the generator blanks {sorted(blanked)}; required in {source}: {list(contract.required_headers)}")
    expected = {c.source for c in contract.columns if c.required and c.name not in contract.natural_key}
    assert set(blanked) == expected
    reasons = missing_reasons(contract, model)
    for header, reason in blanked.items():
        assert reason == reasons[by_header[header].name], (header, reason)


@pytest.mark.parametrize(("natural_key", "message"), [
    ("[order_code]", "natural_key order_code is not one of its columns"),
    ("[order_id, shipping_mode]", "natural_key shipping_mode must be required"),
])
def test_a_natural_key_is_required_columns_of_its_contract(natural_key: str, message: str) -> None:
    text = """
deliveries:
  table: raw.deliveries
  file_names: [DeliveryDetails.csv]
  natural_key: %s
  columns:
    - {source: ORDER_ID, name: order_id, type: BIGINT, required: true}
    - {source: SHIPPING_MODE, name: shipping_mode, type: VARCHAR}
""" % natural_key
    with pytest.raises(ContractError, match=f"^sources.yaml: deliveries: {message}$"):
        parse_contracts(text)


def test_a_model_whose_key_is_not_the_natural_key_is_refused() -> None:
    order_dim = CURATED["orders"]
    text = (resources.files("insightflow.transform") / "models" / "curated" / "order_dim.sql").read_text("utf-8")
    assert parse_model(text, "order_dim.sql") == order_dim
    swapped = text.replace("key: [order_id, product_id]", "key: [product_id, order_id]", 1)
    with pytest.raises(ModelError, match=r"is not the natural key \['order_id', 'order_product_id'\] of raw.orders"):
        parse_model(swapped, "order_dim.sql")
