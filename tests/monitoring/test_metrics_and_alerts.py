"""Monitoring: ops.run_history, the Prometheus metrics file, `insightflow history` and the
e-mail alert (through a real, local SMTP server)."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from insightflow import Lakehouse
from insightflow.errors import InsightFlowError
from insightflow.monitoring import metrics_path
from insightflow.orchestration import run_job
from tests.exports import ORDERS, write_export


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_and_run_history_follow_the_runs(tmp_path: Path, small_export: Path, monkeypatch) -> None:
    lake = Lakehouse(tmp_path / "lake")
    first = lake.run(small_export)
    monkeypatch.setenv("INSIGHTFLOW_FAULT", "error:build:marts.order_summary")
    with pytest.raises(InsightFlowError):
        lake.run(write_export(tmp_path / "changed", {"orders": ORDERS[:-1]}))
    text = metrics_path(lake.layout).read_text()
    assert text == lake.metrics()
    values = samples(text)
    assert values[("insightflow_runs_total", (("status", "success"),))] == 1
    assert values[("insightflow_runs_total", (("status", "failed"),))] == 1
    assert values[("insightflow_last_run_success", ())] == 0
    assert values[("insightflow_last_success_timestamp_seconds", ())] == pytest.approx(first.finished_at.timestamp())
    fact_rows = {s["step"]: s["rows"] for s in first.steps}["marts.fact_sales"]
    assert values[("insightflow_rows_processed_total", (("step", "marts.fact_sales"),))] == fact_rows
    assert values[("insightflow_step_duration_seconds", (("step", "curated.order_dim"),))] > 0
    history = lake.sql("SELECT run_id, run_status, step, step_status, rows_out, bytes_written, attempts "
                       "FROM ops.run_history ORDER BY run_started_at, step")[1]
    failed = [row for row in history if row[1] == "failed"]
    assert {row[2]: row[3] for row in failed}["marts.order_summary"] == "failed"
    succeeded = {row[2]: row for row in history if row[1] == "success"}
    assert succeeded["marts.fact_sales"][4] == fact_rows and succeeded["marts.fact_sales"][5] > 0
    assert {row[6] for row in history} == {1}


class _SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP (RFC 5321) to accept one message: what a mail relay says."""

    def handle(self) -> None:
        self.wfile.write(b"220 test ESMTP\r\n")
        while line := self.rfile.readline():
            verb = line.decode().strip().split(" ")[0].upper()
            if verb in ("EHLO", "HELO"):
                self.wfile.write(b"250 test\r\n")
            elif verb == "DATA":
                self.wfile.write(b"354 go ahead\r\n")
                body = []
                while (data := self.rfile.readline()) not in (b".\r\n", b""):
                    body.append(data.decode())
                self.server.messages.append("".join(body))  # type: ignore[attr-defined]
                self.wfile.write(b"250 queued\r\n")
            elif verb == "QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, list[str]]]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SMTPHandler)
    server.messages = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], server.messages  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


def test_a_failed_run_is_mailed(tmp_path: Path, small_export: Path, monkeypatch, smtp_server) -> None:
    port, messages = smtp_server
    for name, value in {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "SMTP_STARTTLS": "false",
                        "ALERT_EMAIL_TO": "ops@example.com", "FAULT": "error:build:curated.product_dim"}.items():
        monkeypatch.setenv(f"INSIGHTFLOW_{name}", value)
    lake = Lakehouse(tmp_path / "lake")
    with pytest.raises(InsightFlowError):
        run_job(lake, small_export)
    assert len(messages) == 1
    message = messages[0]
    assert "To: ops@example.com" in message and lake.history()[-1].run_id in message
    assert "failed at step curated.product_dim" in message
