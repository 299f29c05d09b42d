"""Which catalog a lake uses: its settings choose PyIceberg's SQL (SQLite or PostgreSQL), REST or Glue
catalog, with the warehouse and the object store's properties."""

from __future__ import annotations

from pathlib import Path

import pytest

from insightflow.errors import UsageError
from insightflow.lake import LakeCatalog, LakeLayout


def opened(monkeypatch: pytest.MonkeyPatch, lake: Path) -> dict:
    calls = {}

    def load_catalog(name, **properties):  # noqa: ANN001, ANN202
        calls.update(name=name, **properties)
        return "the catalog"

    monkeypatch.setattr("pyiceberg.catalog.load_catalog", load_catalog)
    assert LakeCatalog(LakeLayout(lake))._open() == "the catalog"
    return calls


def test_glue_and_rest_catalogs_get_the_warehouse_and_the_store(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("INSIGHTFLOW_WAREHOUSE", "s3://bucket/lake")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("INSIGHTFLOW_CATALOG_TYPE", "glue")
    glue = opened(monkeypatch, tmp_path / "lake")
    assert glue["type"] == "glue" and glue["warehouse"] == "s3://bucket/lake/warehouse"
    assert glue["glue.region"] == "eu-west-1" and glue["s3.region"] == "eu-west-1"
    assert glue["py-io-impl"] == "pyiceberg.io.fsspec.FsspecFileIO"
    monkeypatch.setenv("INSIGHTFLOW_CATALOG_TYPE", "rest")
    monkeypatch.setenv("INSIGHTFLOW_CATALOG_URI", "https://catalog.example.com")
    monkeypatch.setenv("INSIGHTFLOW_CATALOG_TOKEN", "secret-token")
    rest = opened(monkeypatch, tmp_path / "lake")
    assert (rest["type"], rest["uri"], rest["token"]) == ("rest", "https://catalog.example.com", "secret-token")
    monkeypatch.delenv("INSIGHTFLOW_CATALOG_URI")
    with pytest.raises(UsageError, match="a REST catalog needs its URL"):
        opened(monkeypatch, tmp_path / "lake")


def test_secrets_stay_out_of_the_settings_file(tmp_path: Path) -> None:
    from insightflow.settings import Settings

    lake = tmp_path / "lake"
    lake.mkdir()
    (lake / "insightflow.toml").write_text(
        '[catalog]\nuri = "postgresql+psycopg://insightflow:hunter2@db/lake"\n', encoding="utf-8")
    with pytest.raises(UsageError, match="password comes from the environment"):
        Settings.load(lake)
    (lake / "insightflow.toml").write_text('[catalog]\ntype = "hive"\n', encoding="utf-8")
    with pytest.raises(UsageError, match="catalog_type is one of sql, rest, glue"):
        Settings.load(lake)
