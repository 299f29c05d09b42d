"""Dashboard fixtures: an AppTest of the app on a given lake, the figures a chart drew, and for the
browser tests Debian's Chromium driven by Playwright and `insightflow dashboard` served for real."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from insightflow.dashboard import APP
from insightflow.dashboard.formatting import count, days, money, percent
from tests.browsers import CHROMIUM, CHROMIUM_ARGS, playwright_driver


@pytest.fixture
def dashboard(monkeypatch: pytest.MonkeyPatch) -> Callable[..., AppTest]:
    """``dashboard(lake_root, **query)``: the app rendered on that lake with that query string."""

    def render(root: Path, **query: str) -> AppTest:
        monkeypatch.setenv("INSIGHTFLOW_LAKE", str(root))
        app = AppTest.from_file(str(APP), default_timeout=120)
        for name, value in query.items():
            app.query_params[name] = value
        app.run()
        assert not app.exception, [e.value for e in app.exception]
        return app

    return render


def cards(app: AppTest) -> dict[str, str]:
    """Every KPI card: label → the text it shows."""
    return {metric.label: metric.value for metric in app.metric}


def expected_cards(summary: dict) -> dict[str, str]:
    """The cards the query layer's KPI summary should produce, formatted like the original."""
    orders = summary["orders_placed"]
    return {
        "Products Ordered": count(summary["products_ordered"]),
        "Gross Sales": money(summary["gross_sales"]),
        "Net Profit": money(summary["net_profit"]),
        "Orders Placed": count(orders),
        "Net Sales": money(summary["net_sales"]),
        "Discount": money(summary["discount"]),
        "Avg Shipping Days": days(summary["avg_shipping_days"]),
        "Late-Delivery Share": percent(summary["late_deliveries"] / orders if orders else 0.0),
        "Total Delayed Orders": count(summary["late_deliveries"]),
    }


def charts(app: AppTest) -> dict[str, list[dict]]:
    """Every Plotly chart of the page: title → its traces (typed arrays decoded to lists)."""
    found = {}
    for element in app.get("plotly_chart"):
        spec = json.loads(element.proto.spec)
        found[spec["layout"]["title"]["text"]] = [_decoded(trace) for trace in spec["data"]]
    return found


def _decoded(value):
    """Plotly ≥ 6 sends numeric arrays as ``{"dtype", "bdata"}``; make them plain lists again."""
    if isinstance(value, dict) and "bdata" in value:
        data = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        if "shape" in value:
            data = data.reshape([int(n) for n in str(value["shape"]).split(",")])
        return data.tolist()
    if isinstance(value, dict):
        return {k: _decoded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decoded(v) for v in value]
    return value


# --- the browser tests: Debian's Chromium (never Playwright's download) and a real server -----

@pytest.fixture(scope="module")
def playwright() -> Iterator:
    with playwright_driver() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright) -> Iterator:
    """Chromium for private windows (``new_context``: no profile on disk)."""
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@contextmanager
def serve_dashboard(lake_root: Path, log_path: Path, home: Path) -> Iterator[str]:
    """`insightflow dashboard --port N` on a free port for the lake at ``lake_root``; its base URL."""
    port = _free_port()
    cli = Path(sys.executable).with_name("insightflow")
    command = [str(cli)] if cli.exists() else [sys.executable, "-m", "insightflow.cli"]
    log = log_path.open("w")
    process = subprocess.Popen(
        [*command, "dashboard", "--port", str(port), "--lake", str(lake_root)],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "HOME": str(home)},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, log_path)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_healthy(url: str, process: subprocess.Popen, log: Path, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"`insightflow dashboard` exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.25)
    pytest.fail(f"`insightflow dashboard` did not answer within {timeout:.0f} s: {log.read_text()[-2000:]}")
