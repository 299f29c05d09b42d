"""Bit rot: a flipped byte in a published file or a landing copy is found by `insightflow verify`."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from insightflow import Lakehouse
from insightflow.lake.checksums import SIDECAR
from tests.exports import ORDERS, write_export
from tests.test_cli import insightflow


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("verify")
    lake = Lakehouse(root / "lake")
    lake.run(write_export(root / "export"))
    return lake.layout.root


def _report(lake: Path) -> tuple[int, dict]:
    out = insightflow("verify", "--format", "json", lake=lake)
    return out.returncode, json.loads(out.stdout)


def test_a_sound_lake_verifies(published: Path, tmp_path: Path) -> None:
    shutil.copytree(published, tmp_path / "lake")
    code, report = _report(tmp_path / "lake")
    assert code == 0 and report["problems"] == []
    assert report["files"] >= 10 and report["unrecorded"] == 0 and report["landing"] == 4


def _flip(path: Path, offset: int) -> None:
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_flipped_byte_is_found(published: Path, tmp_path: Path) -> None:
    root = tmp_path / "lake"
    shutil.copytree(published, root)
    lake = Lakehouse(root)
    fact = Path(lake.catalog.resolve("marts.fact_sales").files[0])
    _flip(fact, fact.stat().st_size // 2)
    landing = sorted((root / "landing").glob("*.csv"))[0]
    _flip(landing, 10)
    code, report = _report(root)
    assert code == 1
    problems = {(p["table"], Path(p["file"]).name): p["problem"] for p in report["problems"]}
    assert "changed since it was committed" in problems[("marts.fact_sales", fact.name)]
    assert "changed since it was landed" in problems[("landing", landing.name)]
    assert len(problems) == 2
    out = insightflow("verify", lake=root)
    assert out.returncode == 1 and "2 problems" in out.stdout


def test_a_missing_file_is_found(published: Path, tmp_path: Path) -> None:
    root = tmp_path / "lake"
    shutil.copytree(published, root)
    gone = Path(Lakehouse(root).catalog.resolve("curated.order_dim").files[0])
    gone.unlink()
    code, report = _report(root)
    assert code == 1 and [(p["table"], p["problem"]) for p in report["problems"]] == [("curated.order_dim", "missing")]


def test_checksums_go_with_their_files(tmp_path: Path) -> None:
    lake = Lakehouse(tmp_path / "lake")
    (tmp_path / "lake").mkdir()
    (tmp_path / "lake" / "insightflow.toml").write_text("[lake]\nkeep_snapshots = 1\n")
    for quantity in range(1, 5):  # each run changes the orders: files replaced, snapshots expired
        lake.run(write_export(tmp_path / f"export-{quantity}",
                              {"orders": [[*ORDERS[0][:3], str(quantity), *ORDERS[0][4:]], *ORDERS[1:]]}))
    warehouse = tmp_path / "lake" / "warehouse"
    data = {p for p in warehouse.rglob("data/*.parquet")}
    sidecars = {Path(str(p).removesuffix(SIDECAR)) for p in warehouse.rglob(f"data/*{SIDECAR}")}
    assert data == sidecars
    assert insightflow("verify", lake=tmp_path / "lake").returncode == 0
