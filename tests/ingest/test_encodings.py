"""Exports as Excel and ERPs write them: UTF-16, Windows-1252, Latin-1 — detected, or given."""

from __future__ import annotations

import hashlib
from pathlib import Path

from insightflow import Lakehouse
from tests.exports import PRODUCTS, csv_text, write_export
from tests.test_cli import insightflow

NAME = "O\u2019Neill \u20ac5 watch"  # a curly apostrophe and a euro sign: bytes 0x92 and 0x80 in cp1252


def _export(folder: Path) -> Path:
    export = write_export(folder)
    rows = [[PRODUCTS[0][0], NAME, *PRODUCTS[0][2:]], *PRODUCTS[1:]]
    (export / "ProductDetails.csv").write_bytes(csv_text("products", rows).encode("cp1252"))
    return export


def test_a_windows_1252_export_is_detected_read_and_landed_as_it_is(tmp_path: Path) -> None:
    export, lake = _export(tmp_path / "export"), tmp_path / "lake"
    crawled = insightflow("crawl", str(export), lake=lake)
    assert crawled.returncode == 0 and "cp1252" in crawled.stdout
    assert insightflow("run", "--source", str(export), lake=lake).returncode == 0
    lakehouse = Lakehouse(lake)
    assert lakehouse.sql("SELECT product_name FROM curated.product_dim WHERE product_id = 1360")[1] == [(NAME,)]
    original = hashlib.sha256((export / "ProductDetails.csv").read_bytes()).hexdigest()
    assert (lake / "landing" / f"{original}.csv").read_bytes() == (export / "ProductDetails.csv").read_bytes()


def test_an_encoding_given_wins_and_a_wrong_one_is_refused_clearly(tmp_path: Path) -> None:
    export, lake = _export(tmp_path / "export"), tmp_path / "lake"
    wrong = insightflow("run", "--source", str(export), "--encoding", "utf-8", lake=lake)
    assert wrong.returncode == 2 and len(wrong.stderr.splitlines()) == 1
    assert "ProductDetails.csv: cannot be read as utf-8 (byte 0x92 on line 2)" in wrong.stderr
    lake.mkdir(exist_ok=True)
    (lake / "insightflow.toml").write_text('[encodings]\nproducts = "latin-1"\n')
    assert insightflow("run", "--source", str(export), lake=lake).returncode == 0
    name = Lakehouse(lake).sql("SELECT product_name FROM curated.product_dim WHERE product_id = 1360")[1][0][0]
    assert name == NAME.encode("cp1252").decode("latin-1")  # read as the setting says, not as detected


def test_an_unknown_encoding_is_a_usage_error(tmp_path: Path) -> None:
    out = insightflow("crawl", str(write_export(tmp_path / "export")), "--encoding", "klingon", lake=tmp_path / "lake")
    assert out.returncode == 2 and "unknown encoding 'klingon'" in out.stderr and "Traceback" not in out.stderr
    (tmp_path / "lake").mkdir()
    (tmp_path / "lake" / "insightflow.toml").write_text('[encodings]\nreturns = "cp1252"\n')
    out = insightflow("crawl", str(tmp_path / "export"), lake=tmp_path / "lake")
    assert out.returncode == 2 and "[encodings] has returns" in out.stderr
