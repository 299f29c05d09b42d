"""Shared fixtures: every test gets its own lake in a temporary folder; nothing leaks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from insightflow import Lakehouse
from tests.exports import write_export


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
