"""Monitoring of runs: Prometheus metrics and failure alerts, written after every run.

Neither needs the orchestrator: a run from ``Lakehouse.run()`` and one from the Dagster job both
end in ``after_run``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from insightflow.errors import InsightFlowError
from insightflow.monitoring.alerts import Alert, send_alert
from insightflow.monitoring.metrics import metrics_path, render_metrics, write_metrics

if TYPE_CHECKING:
    from insightflow.session import RunSession

log = logging.getLogger(__name__)

__all__ = ["Alert", "after_run", "metrics_path", "render_metrics", "send_alert", "write_metrics"]


def after_run(session: RunSession) -> None:
    """Refresh the lake's metrics file and send the alerts the settings ask for; never raises."""
    from insightflow.settings import Settings

    try:
        settings = Settings.load(session.layout.root)
    except InsightFlowError as problem:
        log.warning("no alert sent for run %s: %s", session.run_id, problem)
        return
    if session.catalog.initialized():
        try:
            write_metrics(session.catalog, metrics_path(session.layout))
        except (InsightFlowError, OSError) as problem:
            log.warning("could not write the metrics file: %s", problem)
    record = session.record
    if record.status == "success" and not settings.alert_on_success:
        return
    send_alert(settings, Alert.of(session, settings))
