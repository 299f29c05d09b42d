"""The HTTP API in-process: roles, KPIs, SQL, PII masking, runs, metrics, audit."""

from __future__ import annotations

import time

from insightflow import Lakehouse
from tests.api.conftest import auth


def test_health_needs_no_token(client, api_lake: Lakehouse) -> None:
    body = client.get("/health").json()
    published = [r.run_id for r in api_lake.history() if r.status == "success"][-1]
    assert body["status"] == "ok" and body["published_run"] == published


def test_viewer_reads_kpis_like_the_cli(client, tokens, api_lake: Lakehouse) -> None:
    response = client.get("/kpis", headers=auth(tokens["viewer"]))
    assert response.status_code == 200
    assert response.json() == api_lake.kpis()
    one = client.get("/kpis/on_time_by_mode", params={"year": 2017}, headers=auth(tokens["viewer"])).json()
    assert one["kpi"] == "on_time_by_mode" and one["filters"] == {"year": 2017}
    assert {r["shipping_mode"] for r in one["rows"]} == {"Standard Class"}


def test_roles_are_enforced(client, tokens) -> None:
    statement = {"sql": "SELECT count(*) AS n FROM marts.fact_sales"}
    assert client.post("/sql", json=statement, headers=auth(tokens["viewer"])).status_code == 403
    assert client.post("/sql", json=statement, headers=auth(tokens["analyst"])).json()["rows"] == [{"n": 6}]
    assert client.post("/runs", headers=auth(tokens["analyst"])).status_code == 403
    assert client.get("/kpis").status_code == 401
    assert client.get("/kpis", headers=auth("ifk_forged")).status_code == 401


def test_pii_is_masked_without_the_grant_even_through_sql(client, tokens) -> None:
    statement = {"sql": "SELECT customer_fname, customer_lname, customer_city, customer_zipcode, "
                        "customer_state FROM curated.customer_dim WHERE customer_id = 1"}
    masked = client.post("/sql", json=statement, headers=auth(tokens["analyst"])).json()["rows"][0]
    assert masked == {"customer_fname": "***", "customer_lname": "***", "customer_city": "***",
                      "customer_zipcode": "***", "customer_state": "TX"}
    clear = client.post("/sql", json=statement, headers=auth(tokens["pii"])).json()["rows"][0]
    assert clear["customer_lname"] == "Hernandez" and clear["customer_zipcode"] == "78521"
    tricks = [
        "SELECT * FROM curated.customer_dim",
        "SELECT upper(customer_lname) AS x FROM raw.customers",
        "SELECT max(customer_fname || customer_lname) AS x FROM curated.customer_dim",
        "WITH c AS (SELECT * FROM raw.customers) SELECT string_agg(customer_city, ',') AS x FROM c",
    ]
    for sql in tricks:
        body = client.post("/sql", json={"sql": sql}, headers=auth(tokens["analyst"])).json()
        text = str(body["rows"])
        assert "Hernandez" not in text and "Brownsville" not in text and "78521" not in text, sql


def test_sql_rows_are_bounded_and_flagged(client, tokens) -> None:
    body = client.post("/sql", json={"sql": "SELECT unnest(range(5000)) AS x", "max_rows": 10},
                       headers=auth(tokens["analyst"])).json()
    assert body["row_count"] == 10 and body["truncated"] is True


def test_admin_starts_a_run_and_follows_it(client, tokens) -> None:
    job = client.post("/runs", json={}, headers=auth(tokens["admin"]))
    assert job.status_code == 202
    job_id = job.json()["job_id"]
    for _ in range(120):
        state = client.get(f"/runs/{job_id}", headers=auth(tokens["admin"])).json()
        if state["status"] != "running":
            break
        time.sleep(0.5)
    # the lake's inbox is empty: the run fails cleanly and says why
    assert state["status"] == "failed" and state["error"]
    assert client.get("/runs/nope", headers=auth(tokens["admin"])).status_code == 404


def test_metrics_and_audit(client, tokens, api_lake: Lakehouse) -> None:
    client.get("/kpis", headers=auth(tokens["viewer"]))
    text = client.get("/metrics", headers=auth(tokens["viewer"])).text
    assert 'insightflow_http_requests_total{method="GET",route="/kpis",status="200"}' in text
    entries = api_lake.audit(500)
    assert any(e["who"] == "vera" and e["action"] == "GET /kpis" for e in entries)
    assert any(e["who"] == "vera" and e["action"] == "kpi:summary" for e in entries)


def test_openapi_spec_is_served(client) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/health", "/kpis", "/kpis/{name}", "/sql", "/runs", "/runs/{run_id}", "/metrics", "/tables"} <= set(spec["paths"])
