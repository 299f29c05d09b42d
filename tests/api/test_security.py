"""Hostile statements and requests: each refused or bounded, with its status and an audit entry,
and nothing written anywhere but the audit log."""

from __future__ import annotations

from pathlib import Path

import pytest

from insightflow import Lakehouse
from tests.api.conftest import auth, lake_files

HOSTILE_SQL = [
    # (statement, expected status)
    ("SELECT * FROM read_csv('/etc/passwd')", 400),
    ("SELECT * FROM read_csv_auto('/etc/passwd')", 400),
    ("SELECT * FROM read_text('/etc/passwd')", 400),
    ("SELECT * FROM read_blob('/etc/passwd')", 400),
    ("SELECT * FROM read_json('/etc/passwd')", 400),
    ("SELECT * FROM read_json_auto('/etc/passwd')", 400),
    ("SELECT * FROM read_parquet('catalog.db')", 400),
    ("SELECT * FROM parquet_scan('/etc/passwd')", 400),
    ("SELECT * FROM glob('/**')", 400),
    ("SELECT * FROM '/etc/passwd'", 400),
    ("SELECT * FROM 'warehouse/marts/fact_sales/data/x.parquet'", 400),
    ("SELECT * FROM \"../../etc\".passwd", 400),
    ("SELECT * FROM sqlite_scan('catalog.db', 'iceberg_tables')", 400),
    ("SELECT * FROM query('SELECT 1')", 400),
    ("SELECT * FROM duckdb_settings()", 400),
    ("SELECT * FROM marts.fact_sales JOIN read_csv('/etc/passwd') ON true", 400),
    ("SELECT (SELECT count(*) FROM read_text('/etc/hostname')) AS n", 400),
    ("COPY (SELECT * FROM marts.fact_sales) TO '/tmp/insightflow-leak.csv'", 400),
    ("COPY marts.fact_sales TO 'leak.parquet' (FORMAT parquet)", 400),
    ("EXPORT DATABASE '/tmp/insightflow-export'", 400),
    ("ATTACH '/tmp/insightflow-attach.db' AS x", 400),
    ("INSTALL httpfs", 400),
    ("LOAD httpfs", 400),
    ("SET enable_external_access = true", 400),
    ("SET memory_limit = '100GB'", 400),
    ("PRAGMA database_list", 400),
    ("CALL pragma_version()", 400),
    ("CREATE TABLE x AS SELECT 1", 400),
    ("CREATE MACRO evil() AS 1", 400),
    ("INSERT INTO marts.fact_sales SELECT * FROM marts.fact_sales", 400),
    ("UPDATE marts.fact_sales SET profit = 0", 400),
    ("DELETE FROM marts.fact_sales", 400),
    ("DROP VIEW marts.fact_sales", 400),
    ("SELECT 1; DROP VIEW marts.fact_sales", 400),
    ("SELECT 1; SELECT * FROM read_text('/etc/passwd')", 400),
    ("SeLeCt * FrOm ReAd_CsV('/etc/passwd')", 400),
    ("SELECT /* comment */ * FROM /* x */ read_csv('/etc/passwd') -- trailing", 400),
    ("/* hide */ COPY (SELECT 1) TO '/tmp/insightflow-leak2.csv'", 400),
    ("EXPLAIN COPY (SELECT 1) TO '/tmp/insightflow-leak3.csv'", 400),
    ("SELECT current_setting('allowed_directories')", 400),
    ("SELECT getenv('HOME')", 400),
    ("SELECT * FROM fact_sales", 400),
    ("SELECT * FROM other.db.fact_sales", 400),
    ("WITH x AS (SELECT * FROM read_csv('/etc/passwd')) SELECT * FROM x", 400),
    ("SELECT * FROM marts.fact_sales WHERE", 400),
    ("DETACH memory", 400),
    ("USE marts", 400),
    # table functions in a table's place, however it is written
    ("SELECT * FROM (SELECT 1) t, LATERAL duckdb_settings()", 400),
    ("SELECT * FROM (SELECT 1) t, LATERAL query('SELECT 1')", 400),
    ("SELECT * FROM (SELECT 1) t, LATERAL query_table('marts.fact_sales')", 400),
    ("SELECT * FROM (SELECT 1) t JOIN LATERAL duckdb_functions() f ON true", 400),
    ("SELECT * FROM (SELECT 1) t CROSS JOIN duckdb_settings()", 400),
    ("SELECT * FROM (SELECT 1) t, LATERAL range(3000000000)", 400),
    ("SELECT * FROM (SELECT 1) t, LATERAL read_text('/etc/passwd')", 400),
    # nested past what a parser can follow: one clear refusal, not a crash
    ("SELECT " + "(" * 3000 + "1" + ")" * 3000, 400),
    ("SELECT * FROM " + "(SELECT * FROM " * 500 + "marts.fact_sales" + ") AS q" * 500, 400),
    # bounded, not refused: a cross join runs into the timeout, a huge result is cut
    ("SELECT count(*) FROM (SELECT unnest(range(30000)) AS a) AS x, "
     "(SELECT unnest(range(30000)) AS b) AS y WHERE a * b % 7 = 3", 408),
]


@pytest.mark.parametrize(("statement", "status"), HOSTILE_SQL)
def test_hostile_statement_is_refused_or_bounded(
    client, tokens, api_lake: Lakehouse, statement: str, status: int
) -> None:
    before = lake_files(api_lake.layout.root)
    response = client.post("/sql", json={"sql": statement}, headers=auth(tokens["analyst"]))
    assert response.status_code == status, response.text
    assert "Traceback" not in response.text and response.json()["detail"]
    entry = [e for e in api_lake.audit(10) if e["action"] == statement][-1]
    assert entry["who"] == "anna" and entry["outcome"] in ("refused", "timeout", "error")
    assert lake_files(api_lake.layout.root) == before
    assert not list(Path("/tmp").glob("insightflow-leak*")) and not Path("/tmp/insightflow-attach.db").exists()


TEN_MILLION_ROWS = ("SELECT a.x * 1000 + b.y AS n FROM (SELECT unnest(range(10000)) AS x) AS a, "
                    "(SELECT unnest(range(1000)) AS y) AS b")


def test_ten_million_rows_are_cut_to_the_limit(client, tokens, api_lake: Lakehouse) -> None:
    response = client.post("/sql", json={"sql": TEN_MILLION_ROWS, "max_rows": 100000},
                           headers=auth(tokens["analyst"]))
    assert response.status_code == 200
    assert response.json()["row_count"] == 100_000 and response.json()["truncated"] is True
    assert api_lake.audit(5)[-2]["truncated"] is True  # the query entry, before the request entry


@pytest.mark.parametrize(
    ("method", "path", "token", "body", "status"),
    [
        ("get", "/kpis", None, None, 401),
        ("get", "/kpis", "ifk_forged-token", None, 401),
        ("get", "/kpis", "", None, 401),
        ("post", "/sql", None, {"sql": "SELECT 1"}, 401),
        ("post", "/sql", "viewer", {"sql": "SELECT 1"}, 403),
        ("post", "/runs", "viewer", {}, 403),
        ("post", "/runs", "analyst", {}, 403),
        ("get", "/runs/x", "analyst", None, 403),
        ("get", "/metrics", None, None, 401),
        ("get", "/kpis/no_such_kpi", "viewer", None, 422),
        ("get", "/kpis/summary?quarter=9", "viewer", None, 422),
        ("get", "/kpis?as_of=../../etc/passwd", "viewer", None, 400),
        ("post", "/sql", "analyst", {"sql": ""}, 422),
        ("get", "/kpis?as_of=%C2%B2", "viewer", None, 400),  # "²" is a digit to str.isdigit()
    ],
)
def test_hostile_request_is_refused(client, tokens, api_lake: Lakehouse, method, path, token, body, status) -> None:
    headers = auth(tokens.get(token, token)) if token is not None else {}
    before = lake_files(api_lake.layout.root)
    response = client.request(method.upper(), path, json=body, headers=headers)
    assert response.status_code == status, response.text
    assert api_lake.audit(1)[-1]["action"] == f"{method.upper()} {path.split('?')[0]}"
    assert api_lake.audit(1)[-1]["status"] == status
    assert lake_files(api_lake.layout.root) == before


def test_viewer_cannot_reach_personal_data(client, tokens) -> None:
    response = client.post("/sql", json={"sql": "SELECT customer_lname FROM curated.customer_dim"},
                           headers=auth(tokens["viewer"]))
    assert response.status_code == 403


def test_an_answer_is_bounded_in_bytes_too(client, tokens) -> None:
    statement = "SELECT n, repeat('x', 1000000) AS a FROM (SELECT unnest(range(100)) AS n)"
    response = client.post("/sql", json={"sql": statement}, headers=auth(tokens["analyst"]))
    assert response.status_code == 200
    body = response.json()
    assert body["truncated"] is True and 0 < body["row_count"] < 100
    assert len(response.content) <= 70 * 2**20  # the 64 MiB bound, and the JSON around it


def test_a_long_unauthenticated_path_is_audited_in_part(client, api_lake: Lakehouse) -> None:
    path = "/kpis/" + "x" * 60_000
    assert client.get(path).status_code in (401, 404, 422)
    action = api_lake.audit(1)[-1]["action"]
    assert action.startswith("GET /kpis/xxx") and len(action) < 400 and "60,006 characters" in action


def test_the_sandbox_pool_is_bounded_whatever_the_limits() -> None:
    from insightflow.query.sandbox import Limits, SandboxPool

    pool = SandboxPool(max_idle=4)
    connections = [(pool.acquire(Limits(max_rows=n)), Limits(max_rows=n)) for n in range(1, 21)]
    for con, limits in connections:
        pool.release(con, limits, [], reusable=True)
    assert pool.idle == 4
    again = pool.acquire(Limits(max_rows=12345))  # rows are per query: an idle connection serves it
    assert pool.idle == 3
    pool.release(again, Limits(), [], reusable=True)


def test_identical_requests_in_flight_are_computed_once(api_lake: Lakehouse, monkeypatch) -> None:
    import threading
    import time

    from insightflow.query import QueryService, service

    calls = []
    real = service.run_kpi

    def slow(*args, **kwargs):  # noqa: ANN002, ANN003
        calls.append(1)
        time.sleep(0.5)
        return real(*args, **kwargs)

    monkeypatch.setattr(service, "run_kpi", slow)
    queries = QueryService(api_lake.catalog)
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(queries.kpi("on_time_by_mode"))) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len(answers) == 20
    assert all(a.rows == answers[0].rows for a in answers)


def test_a_connection_that_sends_no_request_is_closed(api_lake: Lakehouse, monkeypatch) -> None:
    import socket
    import threading
    import time

    import uvicorn

    from insightflow.api import server
    from insightflow.api.app import create_app
    from tests.servers import free_port

    monkeypatch.setattr(server, "REQUEST_HEAD_TIMEOUT", 1.0)
    port = free_port()
    config = uvicorn.Config(create_app(api_lake), host="127.0.0.1", port=port, log_level="warning",
                            http=server.guarded_protocol())
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if running.started:
                break
            time.sleep(0.05)
        idle = socket.create_connection(("127.0.0.1", port))
        slow = socket.create_connection(("127.0.0.1", port))
        slow.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # a head that never ends
        idle.settimeout(5)
        slow.settimeout(5)
        started = time.monotonic()
        assert idle.recv(1) == b"" and slow.recv(1) == b""  # closed by the server ...
        assert time.monotonic() - started < 3  # ... after the head timeout, not never
        with socket.create_connection(("127.0.0.1", port)) as prompt:  # a real request is served
            prompt.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            prompt.settimeout(5)
            assert prompt.recv(12).startswith(b"HTTP/1.1 200")
    finally:
        running.should_exit = True
        thread.join(timeout=10)
