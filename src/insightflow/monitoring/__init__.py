"""Monitoring of runs: Prometheus metrics and failure alerts, written after every run.

Neither needs the orchestrator: a run from ``Lakehouse.run()`` and one from the Dagster job both
end in ``after_run``, a hook that takes the run's record and the lake's catalog (monitoring never
imports the run's code).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from insightflow.errors import InsightFlowError
from insightflow.monitoring.alerts import Alert, send_alert
from insightflow.monitoring.metrics import metrics_path, render_metrics, write_metrics

if TYPE_CHECKING:
    from insightflow.lake import LakeCatalog, RunRecord

log = logging.getLogger(__name__)

__all__ = ["Alert", "after_run", "metrics_path", "render_metrics", "send_alert", "write_metrics"]


def after_run(record: RunRecord, catalog: LakeCatalog, failed_step: str | None = None) -> None:
    """After ``record`` was written: refresh the lake's metrics file and send the alerts the
    settings ask for (``failed_step``: where a failed run stopped); never raises."""
    from insightflow.settings import Settings

    try:
        settings = Settings.load(catalog.layout.root)
    except InsightFlowError as problem:
        log.warning("no alert sent for run %s: %s", record.run_id, problem)
        return
    if catalog.initialized():
        try:
            write_metrics(catalog, metrics_path(catalog.layout))
        except (InsightFlowError, OSError) as problem:
            log.warning("could not write the metrics file: %s", problem)
    if record.status == "success" and not settings.alert_on_success:
        return
    send_alert(settings, Alert.of(record, settings, lake=str(catalog.layout.root), failed_step=failed_step))
