"""`GET /tables`: the tables the API serves, with rows, snapshot and columns, for a viewer or above."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from insightflow import Lakehouse
from insightflow.api import TokenStore, create_app
from tests.api.conftest import auth


def test_tables_need_a_token(client) -> None:
    assert client.get("/tables").status_code == 401
    assert client.get("/tables", headers=auth("ifk_forged")).status_code == 401
    assert client.get("/tables", headers={"Authorization": "Basic dmVyYTp4"}).status_code == 401


def test_every_role_lists_the_tables_like_the_cli(client, tokens, api_lake: Lakehouse) -> None:
    expected = {t.name: t for t in api_lake.tables()}
    for role in ("viewer", "analyst", "admin"):
        response = client.get("/tables", headers=auth(tokens[role]))
        assert response.status_code == 200, role
        listed = {t["name"]: t for t in response.json()["tables"]}
        assert list(listed) == sorted(expected)
        assert {"raw.orders", "curated.customer_dim", "marts.fact_sales", "ops.runs"} <= set(listed)
        for name, table in listed.items():
            assert table["rows"] == expected[name].rows and table["files"] == expected[name].files
            assert table["snapshot"] == str(expected[name].snapshot_id)
            assert [(c["name"], c["type"]) for c in table["columns"]] == list(expected[name].columns)
    fact = listed["marts.fact_sales"]
    assert fact["rows"] == 6 and {"net_sales", "order_id"} <= {c["name"] for c in fact["columns"]}


def test_the_snapshot_is_the_one_queries_read(client, tokens) -> None:
    listed = {t["name"]: t for t in client.get("/tables", headers=auth(tokens["viewer"])).json()["tables"]}
    answer = client.post("/sql", json={"sql": "SELECT count(*) AS n FROM marts.fact_sales"},
                         headers=auth(tokens["analyst"])).json()
    assert answer["snapshots"]["marts.fact_sales"] == listed["marts.fact_sales"]["snapshot"]
    assert answer["rows"] == [{"n": listed["marts.fact_sales"]["rows"]}]


def test_columns_say_which_are_masked_for_the_caller(client, tokens) -> None:
    def masked(role: str) -> set[str]:
        listed = {t["name"]: t for t in client.get("/tables", headers=auth(tokens[role])).json()["tables"]}
        return {c["name"] for c in listed["curated.customer_dim"]["columns"] if c["masked"]}

    assert {"customer_fname", "customer_lname", "customer_city", "customer_zipcode"} <= masked("viewer")
    assert "customer_state" not in masked("viewer")
    assert masked("pii") == set()


def test_an_empty_lake_lists_no_table(tmp_path: Path) -> None:
    lake = Lakehouse(tmp_path / "lake")
    store = TokenStore(tmp_path / "tokens.toml")
    token = store.add("vera", "viewer")
    with TestClient(create_app(lake, tokens=store)) as client:
        response = client.get("/tables", headers=auth(token))
    assert response.status_code == 200 and response.json() == {"tables": []}
