"""`insightflow ui`: the Dagster UI of the lake serves its page, shows the assets and checks that
`insightflow run` published (outside Dagster), and its daemon runs the inbox sensor: files dropped
in the inbox start one run."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from insightflow import Lakehouse
from tests.exports import ORDERS, write_export

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


def runs(base: str) -> list[dict]:
    query = "{ runsOrError { ... on Runs { results { runId status tags { key value } } } } }"
    _, answer = get(f"{base}/graphql", {"query": query})
    return [{**r, "tags": {t["key"]: t["value"] for t in r["tags"]}} for r in json.loads(answer)["data"]["runsOrError"]["results"]]


ASSETS = """{ assetNodes { assetKey { path }
  assetMaterializations(limit: 1) { runId metadataEntries { label ... on TextMetadataEntry { text } } }
  assetChecksOrError { ... on AssetChecks { checks { name
    executionForLatestMaterialization { status evaluation { success } } } } } } }"""


def assets(base: str) -> dict[str, dict]:
    """Per asset: the metadata of its latest materialization and the status of each of its checks."""
    _, answer = get(f"{base}/graphql", {"query": ASSETS})
    nodes = json.loads(answer).get("data", {}).get("assetNodes") or []
    found = {}
    for node in nodes:
        latest = node["assetMaterializations"][0] if node["assetMaterializations"] else None
        checks = (node.get("assetChecksOrError") or {}).get("checks", [])
        found["/".join(node["assetKey"]["path"])] = {
            "metadata": {e["label"]: e.get("text") for e in latest["metadataEntries"]} if latest else None,
            "checks": {c["name"]: (c["executionForLatestMaterialization"] or {}).get("status") for c in checks},
        }
    return found


def test_ui_serves_the_page_and_the_assets(tmp_path: Path, small_export: Path) -> None:
    lake = Lakehouse(tmp_path / "lake")
    cli = [sys.executable, "-m", "insightflow.cli"]
    # a run from the command line, outside Dagster: the UI must still show what it published
    subprocess.run([*cli, "run", "--source", str(small_export), "--lake", str(lake.layout.root)],
                   check=True, capture_output=True, timeout=300)
    cli_run = lake.history()[-1].run_id
    port = free_port()
    server = subprocess.Popen(
        [*cli, "ui", "--port", str(port), "--lake", str(lake.layout.root)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        env={**os.environ, "INSIGHTFLOW_SENSOR_INTERVAL": "3", "INSIGHTFLOW_REPORT_INTERVAL": "3"},
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
        assert runs(base) == []  # the command-line run was not a Dagster run...
        assert (lake.layout.root / ".dagster" / "dagster.yaml").exists()
        # ... but within a minute (here: a 3 s interval) its tables and checks are in the asset graph
        deadline = time.monotonic() + 60
        while (assets(base).get("marts/fact_sales") or {}).get("metadata") is None:
            assert time.monotonic() < deadline, f"the CLI run is not in the asset graph: {assets(base)}"
            time.sleep(1)
        graph = assets(base)
        for key in ("raw/orders", "curated/order_dim", "marts/fact_sales", "marts/order_summary", "ops/runs"):
            assert graph[key]["metadata"]["insightflow_run_id"] == cli_run, (key, graph[key])
        assert graph["marts/fact_sales"]["checks"] == {"quality_gate": "SUCCEEDED", "quality_warnings": "FAILED"}
        assert graph["curated/order_dim"]["checks"]["quality_gate"] == "SUCCEEDED"
        # the daemon's sensor: a changed export dropped into the inbox starts exactly one run
        write_export(lake.layout.inbox, {"orders": ORDERS[:-1]})
        deadline = time.monotonic() + 180
        while not any(r["status"] in ("SUCCESS", "FAILURE") for r in runs(base) if "dagster/sensor_name" in r["tags"]):
            assert time.monotonic() < deadline, f"no sensor run within 180 s: {runs(base)}"
            time.sleep(2)
        time.sleep(8)  # a few more ticks: still one run
        triggered = [r for r in runs(base) if r["tags"].get("dagster/sensor_name") == "insightflow_inbox"]
        assert [r["status"] for r in triggered] == ["SUCCESS"]
        assert lake.history()[-1].run_id == triggered[0]["tags"]["insightflow/run_id"]
        assert lake.history()[-1].source == str(lake.layout.inbox)
    finally:
        os.killpg(server.pid, signal.SIGINT)  # Ctrl-C, as a user stops it
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def descendants(pid: int) -> dict[int, str]:
    """Every live process below ``pid`` (by parent id, from /proc), with its command line."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat[stat.rindex(")") + 2:].split()[1]), []).append(int(entry.name))
    found, todo = {}, list(children.get(pid, []))
    while todo:
        child = todo.pop()
        try:
            found[child] = (Path("/proc") / str(child) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        todo += children.get(child, [])
    return found


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie has exited: only its parent has yet to collect its status)."""
    try:
        stat = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].split()[0] != "Z"


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_ui_says_when_it_is_ready_stays_quiet_and_stops_its_whole_tree(tmp_path: Path, stop: signal.Signals) -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "insightflow.cli", "ui", "--port", str(port), "--lake", str(tmp_path / "lake")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        env={**os.environ, "INSIGHTFLOW_SENSOR_INTERVAL": "1", "INSIGHTFLOW_REPORT_INTERVAL": "1"},
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(line.rstrip("\n") for line in server.stdout), daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    tree: dict[int, str] = {}
    try:
        deadline = time.monotonic() + 180
        while not any(f"ready at {base}" in line for line in lines):
            assert server.poll() is None, f"insightflow ui exited: {lines}"
            assert time.monotonic() < deadline, f"no ready line within 180 s: {lines}"
            time.sleep(0.2)
        assert get(f"{base}/server_info")[0] == 200  # ready means it answers
        starting = next(i for i, line in enumerate(lines) if "starting…" in line)
        assert starting < next(i for i, line in enumerate(lines) if "ready at" in line)
        # no first-visit "join the community" dialog
        assert json.loads(get(f"{base}/graphql", {"query": "{ shouldShowNux }"})[1])["data"] == {"shouldShowNux": False}
        time.sleep(12)  # the sensors tick about every 5 s: a few ticks, without a line for each
        quiet = [line for line in lines if "SensorDaemon" in line or " - INFO - " in line or "Warning" in line]
        assert quiet == [], lines
        tree = descendants(server.pid)
        commands = " | ".join(tree.values())
        assert "dagster dev" in commands and "dagster_webserver" in commands and "dagster._daemon" in commands
        assert "dagster api grpc" in commands or "dagster code-server" in commands, commands
        stopped_at = time.monotonic()
        os.killpg(server.pid, stop)  # the process group of `insightflow ui`: a terminal's Ctrl-C does this
        server.wait(timeout=40)
        took = time.monotonic() - stopped_at
        deadline = time.monotonic() + 5
        while (left := {pid: command for pid, command in tree.items() if alive(pid)}) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert left == {}, f"left running after {stop.name}: {left}"
        assert server.returncode == 0 and any("stopped" in line for line in lines[-3:]), lines
        assert took < 30, f"stopping took {took:.1f} s"
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        for pid in tree:  # never leave a server behind for the next tests
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_ui_refuses_a_port_in_use_before_starting_anything(tmp_path: Path) -> None:
    from insightflow.errors import UsageError
    from insightflow.orchestration.ui import serve

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(UsageError, match=f"port {port} on 127.0.0.1 is in use"):
            serve(tmp_path / "lake", port)
    assert not (tmp_path / "lake").exists()
