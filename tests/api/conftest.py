"""A small published lake, tokens of every role and an in-process client of the API."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from insightflow import Lakehouse
from insightflow.api import TokenStore, create_app, tokens_path
from insightflow.query import Limits
from tests.exports import write_export


@pytest.fixture(scope="module")
def api_lake(tmp_path_factory: pytest.TempPathFactory) -> Lakehouse:
    root = tmp_path_factory.mktemp("api")
    lake = Lakehouse(root / "lake")
    lake.run(write_export(root / "export"))
    return lake


@pytest.fixture(scope="module")
def tokens(api_lake: Lakehouse) -> dict[str, str]:
    store = TokenStore(tokens_path(api_lake.layout))
    return {
        "viewer": store.add("vera", "viewer"),
        "analyst": store.add("anna", "analyst"),
        "admin": store.add("adam", "admin"),
        "pii": store.add("paula", "analyst", pii=True),
    }


@pytest.fixture(scope="module")
def client(api_lake: Lakehouse, tokens: dict[str, str]) -> TestClient:
    app = create_app(api_lake, limits=Limits(max_rows=1000, timeout_seconds=1.0, memory_limit="1GB"))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def lake_files(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` but the audit log, with its size and modification time."""
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file() and "audit" not in p.parts
    }
