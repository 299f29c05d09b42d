"""The request log: one line per request (method, path, status, milliseconds, caller), in-process
and on the stderr of `insightflow serve`; never a token, a header or a query string."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import time

import httpx
import pytest

from insightflow import Lakehouse
from tests.api.conftest import auth
from tests.servers import free_port

# the path may hold spaces; the status, time and caller are the last three fields
LINE = re.compile(r"^(GET|POST|PUT|DELETE|HEAD|OPTIONS|PATCH) (/.*) (\d{3}) (\d+\.\d) ms (\S+)$")
SECRET_QUERY = {"token": "s3cr3t-in-the-query", "api_key": "another-s3cr3t"}


def requests_made(client, tokens) -> list[tuple[str, str, int, str]]:
    """A few requests, some carrying secrets; returns (method, path, status, caller) of each."""
    client.get("/health", params=SECRET_QUERY)
    client.get("/kpis", headers=auth(tokens["viewer"]), params=SECRET_QUERY)
    client.get("/kpis", headers={"Authorization": "Bearer ifk_forged-token-value"})
    client.post("/sql", json={"sql": "SELECT 1 AS x"}, headers=auth(tokens["viewer"]))
    client.get(f"/kpis/{tokens['analyst']}", headers=auth(tokens["analyst"]))  # a token pasted into a path
    client.get("/nowhere%0A2026-01-01 00:00:00 GET /kpis 200 1.0 ms admin%1B[2K")  # a forged log line
    return [("GET", "/health", 200, "-"), ("GET", "/kpis", 200, "vera"), ("GET", "/kpis", 401, "-"),
            ("POST", "/sql", 403, "vera"), ("GET", "/kpis/ifk_***", 422, "anna"),
            ("GET", "/nowhere\\n2026-01-01 00:00:00 GET /kpis 200 1.0 ms admin\\x1b[2K", 404, "-")]


def assert_logged(lines: list[str], expected: list[tuple[str, str, int, str]], tokens: dict[str, str]) -> None:
    found = []
    for line in lines:
        match = LINE.match(line)
        assert match, f"not a request line: {line!r}"
        found.append((match[1], match[2], int(match[3]), match[5]))
    assert found == expected
    text = "\n".join(lines)
    for secret in [*tokens.values(), "ifk_forged-token-value", "Bearer", *SECRET_QUERY.values(), "?"]:
        assert secret not in text


def test_each_request_is_logged_once_without_secrets(client, tokens, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="insightflow.api.requests"):
        expected = requests_made(client, tokens)
    lines = [r.getMessage() for r in caplog.records if r.name == "insightflow.api.requests"]
    assert_logged(lines, expected, tokens)
    assert "\n" not in "".join(lines)


@pytest.mark.slow
def test_serve_writes_the_request_log_on_stderr(api_lake: Lakehouse, tokens) -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "insightflow.cli", "serve", "--port", str(port), "--lake", str(api_lake.layout.root)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            try:
                httpx.get(f"{base}/openapi.json", timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "insightflow serve did not answer"
                time.sleep(0.3)
        with httpx.Client(base_url=base, timeout=30) as client:
            expected = requests_made(client, tokens)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        out, err = server.communicate(timeout=20)
    lines = [line.split(" ", 2)[2] for line in err.splitlines() if re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", line)]
    assert lines[0].startswith("GET /openapi.json 200 ")
    assert_logged(lines[1:], expected, tokens)
    assert out == ""
