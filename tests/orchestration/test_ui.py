"""`insightflow ui`: the Dagster UI of the lake serves its page and knows the assets."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from insightflow import Lakehouse
from insightflow.orchestration import run_job

pytestmark = [pytest.mark.ui, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str, body: dict | None = None) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read()


def test_ui_serves_the_page_and_the_assets(tmp_path: Path, small_export: Path) -> None:
    lake = Lakehouse(tmp_path / "lake")
    run_job(lake, small_export)  # what `insightflow run` does: its run must be in the UI's history
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "insightflow.cli", "ui", "--port", str(port), "--lake", str(lake.layout.root)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        env={**os.environ, "INSIGHTFLOW_SENSOR_ENABLED": "false"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, f"insightflow ui exited: {server.stdout.read() if server.stdout else ''}"
            try:
                status, page = get(f"{base}/server_info")
                if status == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the UI did not answer within 180 s"
            time.sleep(1)
        status, page = get(base + "/")
        assert status == 200 and b"<html" in page.lower()
        while True:  # the code location loads after the webserver starts
            _, answer = get(f"{base}/graphql", {"query": "{ assetNodes { assetKey { path } } }"})
            nodes = json.loads(answer).get("data", {}).get("assetNodes") or []
            if nodes or time.monotonic() > deadline:
                break
            time.sleep(1)
        keys = {"/".join(node["assetKey"]["path"]) for node in nodes}
        assert {"raw/orders", "curated/order_dim", "marts/fact_sales", "ops/runs"} <= keys
        _, answer = get(f"{base}/graphql", {"query": "{ runsOrError { ... on Runs { results { runId status } } } }"})
        runs = json.loads(answer)["data"]["runsOrError"]["results"]
        assert [r["status"] for r in runs] == ["SUCCESS"]
        assert (lake.layout.root / ".dagster" / "dagster.yaml").exists()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
