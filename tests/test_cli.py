"""The command line: bad input gets one clear line on stderr, a non-zero exit and no traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.exports import csv_text, write_export


def insightflow(*args: str, lake: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "insightflow.cli", *args, "--lake", str(lake)],
        capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})},
    )


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("insightflow: error: ")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def _replace(folder: Path, name: str, content: bytes) -> Path:
    (folder / name).write_bytes(content)
    return folder


BAD_INPUTS = {
    "missing folder": (lambda d: d / "nowhere", ["nowhere", "no such folder"]),
    "empty file": (lambda d: _replace(write_export(d), "OrderDetails.csv", b""), ["OrderDetails.csv", "empty"]),
    "header only": (
        lambda d: _replace(write_export(d), "OrderDetails.csv", csv_text("orders", []).encode()),
        ["OrderDetails.csv", "no data rows"],
    ),
    "required column missing": (
        lambda d: _replace(write_export(d), "DeliveryDetails.csv", csv_text(
            "deliveries", [["1", "6", "x", "1", "4/8/15"]],
            header=["ORDER_ID", "SHIPPING_DAYS", "DELIVERY_STATUS", "LATE_DELIVERY_RISK", "SHIPPING_DATE"],
        ).encode()),
        ["DeliveryDetails.csv", "required column SHIPPING_MODE is missing"],
    ),
    "wrong delimiter": (
        lambda d: _replace(write_export(d), "ProductDetails.csv",
                           csv_text("products", [["1", "x", "2", "y", "3", "z"]]).replace(",", ":").encode()),
        ["ProductDetails.csv", "required column PRODUCT_ID is missing"],
    ),
    "UTF-8 mixed with another encoding": (
        lambda d: _replace(write_export(d), "CustomerDetails.csv", csv_text(
            "customers", [["1", "Zo\xeb", "P", "Consumer", "Ponce", "PR", "Puerto Rico", "731"]]).encode()
            + "2,Jos\xe9,P,Consumer,Ponce,PR,Puerto Rico,731\r\n".encode("latin-1")),
        ["CustomerDetails.csv", "cannot be read as utf-8", "line 3", "--encoding"],
    ),
    "binary file named .csv": (
        lambda d: _replace(write_export(d), "OrderDetails.csv", bytes(range(256)) * 40),
        ["OrderDetails.csv", "binary"],
    ),
    "UTF-16 export cut in the middle of a character": (
        lambda d: _replace(write_export(d), "ProductDetails.csv",
                           csv_text("products", [["1", "x", "2", "y", "3", "z"]]).encode("utf-16")[:-1]),
        ["ProductDetails.csv", "utf-16"],
    ),
}


@pytest.fixture(scope="module")
def published_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lake with one good run; tests copy it, so none sees another's changes."""
    folder = tmp_path_factory.mktemp("published")
    good = insightflow("run", "--source", str(write_export(folder / "good")), lake=folder / "lake")
    assert good.returncode == 0, good.stderr
    return folder / "lake"


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_gets_a_one_line_error_and_changes_nothing(
    case: str, tmp_path: Path, published_lake: Path
) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(published_lake, lake)
    published = insightflow("kpis", "--format", "json", lake=lake).stdout
    build, fragments = BAD_INPUTS[case]
    result = insightflow("run", "--source", str(build(tmp_path / "bad")), lake=lake)
    assert_one_line_error(result, *fragments)
    assert insightflow("kpis", "--format", "json", lake=lake).stdout == published


def test_semicolon_delimited_export_is_understood(tmp_path: Path) -> None:
    export = write_export(tmp_path / "export")
    text = (export / "ProductDetails.csv").read_text("utf-8-sig").replace(",", ";")
    (export / "ProductDetails.csv").write_text(text, "utf-8-sig")
    result = insightflow("run", "--source", str(export), lake=tmp_path / "lake")
    assert result.returncode == 0, result.stderr


def test_unknown_files_are_reported_and_skipped(tmp_path: Path) -> None:
    export = write_export(tmp_path / "export")
    (export / "notes.csv").write_text("a,b\n1,2\n")
    crawled = insightflow("crawl", str(export), lake=tmp_path / "lake")
    assert crawled.returncode == 0
    assert "notes.csv" in crawled.stdout and "matches no source contract" in crawled.stdout
    assert insightflow("run", "--source", str(export), lake=tmp_path / "lake").returncode == 0


def test_extra_column_is_kept_in_raw_and_reported(tmp_path: Path) -> None:
    export = write_export(tmp_path / "export")
    text = (export / "DeliveryDetails.csv").read_text("utf-8-sig").splitlines()
    text = [text[0] + ",CARRIER"] + [line + ",DHL" for line in text[1:]]
    (export / "DeliveryDetails.csv").write_text("\r\n".join(text) + "\r\n", "utf-8-sig")
    crawled = insightflow("crawl", str(export), lake=tmp_path / "lake")
    assert "extra columns kept: CARRIER" in crawled.stdout
    assert insightflow("run", "--source", str(export), lake=tmp_path / "lake").returncode == 0
    carriers = insightflow("sql", "SELECT DISTINCT carrier FROM raw.deliveries", "--format", "json",
                           lake=tmp_path / "lake")
    assert json.loads(carriers.stdout) == [{"carrier": "DHL"}]


def test_kpis_json_has_the_documented_keys(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    assert insightflow("run", "--source", str(write_export(tmp_path / "e")), lake=lake).returncode == 0
    figures = json.loads(insightflow("kpis", "--format", "json", lake=lake).stdout)
    assert list(figures) == [
        "products_ordered", "gross_sales", "discount", "net_sales", "net_profit",
        "orders_placed", "avg_shipping_days", "late_deliveries", "on_time_rate_by_mode",
    ]
    quarantine = json.loads(insightflow("quarantine", "--format", "json", lake=lake).stdout)
    assert quarantine == []


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = insightflow("crawl", str(tmp_path / "nowhere"), "--debug", lake=tmp_path / "lake")
    assert result.returncode != 0
    assert "Traceback" in result.stderr


def test_lake_defaults_to_the_environment_variable(tmp_path: Path) -> None:
    lake = tmp_path / "from-env"
    export = write_export(tmp_path / "e")
    result = subprocess.run(
        [sys.executable, "-m", "insightflow.cli", "run", "--source", str(export)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "INSIGHTFLOW_LAKE": str(lake)},
    )
    assert result.returncode == 0, result.stderr
    assert (lake / "catalog.db").exists()
