"""Shared fixtures: every test gets its own lake in a temporary folder; nothing leaks."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from insightflow import Lakehouse
from tests.exports import write_export
from tests.servers import (
    ACCESS_KEY,
    BUCKET,
    REGION,
    SECRET_KEY,
    PostgreSQL,
    SeaweedFS,
    start_postgres,
    start_seaweedfs,
)


def require_reference() -> Path:
    """The DataCo reference export; skipped on a user's machine, a failure in CI."""
    folder = os.environ.get("INSIGHTFLOW_REFERENCE_DATA")
    if folder and (Path(folder) / "OrderDetails.csv").exists():
        return Path(folder)
    reason = (
        "needs the DataCo reference export: set INSIGHTFLOW_REFERENCE_DATA to the folder "
        "holding CustomerDetails.csv, ProductDetails.csv, OrderDetails.csv and DeliveryDetails.csv"
    )
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(reason + " (it must not be skipped in CI)")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the user's lake or a kill switch left by another test."""
    monkeypatch.setenv("INSIGHTFLOW_LAKE", str(tmp_path / "default-lake"))
    for name in list(os.environ):  # faults, alert targets, retry settings of the user's shell
        if name.startswith("INSIGHTFLOW_") and name not in (
            "INSIGHTFLOW_LAKE", "INSIGHTFLOW_REFERENCE_DATA", "INSIGHTFLOW_UPDATE_SCREENSHOT"
        ):
            monkeypatch.delenv(name)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID",
                 "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "PGPASSWORD"):
        monkeypatch.delenv(name, raising=False)  # a user's cloud credentials reach no test


@pytest.fixture
def lake(tmp_path: Path) -> Lakehouse:
    return Lakehouse(tmp_path / "lake")


@pytest.fixture
def small_export(tmp_path: Path) -> Path:
    """A small, clean export with every format quirk of the real one."""
    return write_export(tmp_path / "export")


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    return require_reference()


@pytest.fixture(scope="session")
def reference_lake(tmp_path_factory: pytest.TempPathFactory, reference_dir: Path) -> Lakehouse:
    """One run on the reference data, shared by read-only tests (never modify it)."""
    lakehouse = Lakehouse(tmp_path_factory.mktemp("reference") / "lake")
    lakehouse.run(reference_dir)
    return lakehouse


@dataclass
class CloudLake:
    """The settings of a lake on the test servers: its own prefix of the bucket, its own database."""

    warehouse: str
    catalog_uri: str
    s3: str
    iceberg: str
    postgres: PostgreSQL

    def env(self) -> dict[str, str]:
        return {**os.environ, **cloud_environment(self)}


def cloud_environment(lake: CloudLake) -> dict[str, str]:
    return {"AWS_ENDPOINT_URL": lake.s3, "AWS_REGION": REGION, "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "INSIGHTFLOW_WAREHOUSE": lake.warehouse,
            "INSIGHTFLOW_CATALOG_URI": lake.catalog_uri}


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    server = start_seaweedfs(tmp_path_factory.mktemp("seaweedfs"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgreSQL]:
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture
def cloud(seaweedfs: SeaweedFS, postgres: PostgreSQL, monkeypatch: pytest.MonkeyPatch) -> CloudLake:
    """A fresh cloud lake for the test (its prefix and database), set in this process's environment."""
    lake = CloudLake(f"s3://{BUCKET}/{uuid.uuid4().hex[:12]}", postgres.url(postgres.create_database()),
                     seaweedfs.s3, seaweedfs.iceberg, postgres)
    for name, value in cloud_environment(lake).items():
        monkeypatch.setenv(name, value)
    return lake
