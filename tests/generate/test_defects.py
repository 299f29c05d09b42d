"""Injected defects: each manifest line really carries its defect, and the pipeline agrees."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections import Counter
from pathlib import Path

import pytest

from insightflow import Lakehouse
from insightflow.contracts.sources import load_contracts
from insightflow.generate import GenerateResult, generate

RATE = 0.05
#: Each file's natural key, as headers (the contract's ``natural_key`` names raw columns).
NATURAL_KEYS = {
    c.file_names[0]: tuple(next(col.source for col in c.columns if col.name == k) for k in c.natural_key)
    for c in load_contracts().values()
}
CANONICAL = {
    "CUSTOMER_SEGMENT": {"Consumer", "Corporate", "Home Office"},
    "PAYMENT_TYPE": {"CASH", "DEBIT", "PAYMENT", "TRANSFER"},
    "SHIPPING_MODE": {"First Class", "Same Day", "Second Class", "Standard Class"},
    "DELIVERY_STATUS": {
        "Advance shipping",
        "Late delivery",
        "Shipping canceled",
        "Shipping on time",
    },
}


@pytest.fixture(scope="module")
def dirty(tmp_path_factory: pytest.TempPathFactory) -> GenerateResult:
    return generate(tmp_path_factory.mktemp("dirty"), scale=0.05, seed=11, dirty=RATE)


def _records(path: Path) -> list[list[str]]:
    """Every physical line parsed as CSV; index 0 is line 1 (the header)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def _parses(kind: str, value: str) -> bool:
    try:
        if kind == "DATE":
            dt.datetime.strptime(value.strip(), "%m/%d/%y")
        elif kind == "BIGINT":
            int(value)
        else:
            float(value)
    except ValueError:
        return False
    return True


def test_every_manifest_line_carries_its_defect(dirty: GenerateResult) -> None:
    manifest = json.loads(dirty.manifest.read_text("utf-8"))
    assert (manifest["seed"], manifest["scale"], manifest["dirty"]) == (11, 0.05, RATE)
    defects = manifest["defects"]
    folder = dirty.manifest.parent
    files = {name: _records(folder / name) for name in NATURAL_KEYS}
    contracts = {c.file_names[0]: c for c in load_contracts().values()}
    ids = {
        "customer": {r[0] for r in files["CustomerDetails.csv"][1:]},
        "product": {r[0] for r in files["ProductDetails.csv"][1:]},
        "order": {r[1] for r in files["OrderDetails.csv"][1:] if len(r) > 1},
    }
    assert len({(d["file"], d["line"]) for d in defects}) == len(defects), "one defect per row"
    for d in defects:
        rows, header = files[d["file"]], files[d["file"]][0]
        row = rows[d["line"] - 1]
        value = row[header.index(d["column"])] if d["column"] and len(row) == len(header) else None
        key = [header.index(k) for k in NATURAL_KEYS[d["file"]]]
        earlier = rows[1 : d["line"] - 1]
        kind = d["kind"]
        if kind == "duplicate_row":
            assert row in earlier, d
        elif kind == "duplicate_key":
            same_key = [r for r in earlier if [r[i] for i in key] == [row[i] for i in key]]
            assert same_key and row not in same_key, d
        elif kind == "null_required":
            assert value == "", d
        elif kind == "unparseable_value":
            column = next(c for c in contracts[d["file"]].columns if c.source == d["column"])
            assert column.type != "VARCHAR" and not _parses(column.type, value), d
        elif kind == "negative_quantity":
            assert int(value) < 0, d
        elif kind in ("orphan_customer", "orphan_product", "orphan_order"):
            assert value not in ids[kind.split("_")[1]], d
        elif kind == "shifted_columns":
            assert len(row) == len(header) - 1, d
        elif kind == "categorical_variant":
            canonical = CANONICAL.get(d["column"])
            assert value != value.strip() or value not in (canonical or {value.upper()}), d
        elif kind == "formula_injection":
            assert value.startswith("="), d
        else:
            pytest.fail(f"unknown kind {kind}")
    for name, rows in files.items():
        clean_rows = (
            len(rows)
            - 1
            - sum(
                d["file"] == name
                and d["kind"] in ("duplicate_row", "duplicate_key", "orphan_order")
                for d in defects
            )
        )
        count = sum(d["file"] == name for d in defects)
        assert count == pytest.approx(RATE * clean_rows, abs=max(3, 0.1 * RATE * clean_rows)), name


def test_pipeline_quarantines_and_repairs_what_the_manifest_says(
    dirty: GenerateResult, lake: Lakehouse
) -> None:
    lake.run(dirty.manifest.parent)
    quarantined = {(Path(q["source_file"]).name, q["line"]): q["reason"] for q in lake.quarantine()}
    defects = json.loads(dirty.manifest.read_text("utf-8"))["defects"]
    expected = [d for d in defects if d["expect"] == "quarantine"]
    wrong = [d for d in expected if quarantined.get((d["file"], d["line"])) != d["reason"]]
    assert not wrong, wrong[:5]
    assert Counter(d["reason"] for d in expected).keys() >= {
        "duplicate_row",
        "orphan_order",
        "invalid_value",
    }
    tables = {
        "CustomerDetails.csv": "customer_dim",
        "OrderDetails.csv": "order_dim",
        "DeliveryDetails.csv": "delivery_dim",
    }
    for file_name, table in tables.items():
        _, rows = lake.sql(
            f"SELECT _source_line, _repairs FROM curated.{table} WHERE _repairs IS NOT NULL"
        )
        repairs = dict(rows)
        for d in defects:
            if d["file"] == file_name and d["expect"] == "repair":
                assert d["reason"] in (repairs.get(d["line"]) or ""), d


def test_dirty_zero_writes_no_manifest_and_keeps_the_clean_data(tmp_path: Path) -> None:
    clean = generate(tmp_path / "clean", scale=0.02, seed=5)
    noisy = generate(tmp_path / "noisy", scale=0.02, seed=5, dirty=0.1)
    assert clean.manifest is None and not (tmp_path / "clean" / "manifest.json").exists()
    # Defects change a share of rows; the other rows are the clean ones, in the same order.
    for source in ("orders", "deliveries"):
        clean_lines = clean.files[source].read_bytes().decode("utf-8-sig").split("\r\n")
        noisy_lines = set(noisy.files[source].read_bytes().decode("utf-8-sig").split("\r\n"))
        kept = sum(line in noisy_lines for line in clean_lines)
        assert kept >= 0.85 * len(clean_lines), source
