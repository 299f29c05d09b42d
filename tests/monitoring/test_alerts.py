"""The alert a run sends: built from the run's record alone (monitoring never sees the run's code)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from insightflow.lake import RunRecord
from insightflow.monitoring import Alert
from insightflow.settings import Settings

STARTED = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


def _record(status: str, orchestrator_run_id: str | None = None, error: str | None = None) -> RunRecord:
    return RunRecord("20261201T060000-abc123", status, "duckdb", "/exports", STARTED,
                     STARTED + timedelta(seconds=4.25), error=error, orchestrator_run_id=orchestrator_run_id)


def test_a_failed_run_names_its_step_error_and_its_page_in_the_ui(tmp_path) -> None:
    settings = Settings.load(tmp_path)
    alert = Alert.of(_record("failed", "d4gster-run", "disk full"), settings, lake="/lake",
                     failed_step="curated.order_dim")
    assert alert.text == ("InsightFlow run 20261201T060000-abc123 failed at step curated.order_dim: disk full "
                          "(http://127.0.0.1:3000/runs/d4gster-run)")
    assert (alert.failed_step, alert.status, alert.lake, alert.seconds) == ("curated.order_dim", "failed", "/lake", 4.25)


def test_a_run_made_outside_the_orchestrator_has_no_link_and_a_success_no_failed_step(tmp_path) -> None:
    alert = Alert.of(_record("success"), Settings.load(tmp_path), lake="/lake", failed_step="ingest")
    assert alert.text == "InsightFlow run 20261201T060000-abc123 succeeded in 4.2 s"
    assert alert.url is None and alert.failed_step is None
    failed = Alert.of(_record("failed", error="no such folder"), Settings.load(tmp_path), lake="/lake")
    assert "failed at step start: no such folder" in failed.text
