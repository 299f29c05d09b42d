"""The Dagster instance of a lake: run history and event log in ``<lake>/.dagster``.

``insightflow run`` and ``insightflow ui`` use the same instance, so a run from the command line
is in the UI's run history. Its ``dagster.yaml`` turns Dagster's telemetry off and selects the
event log storage of ``insightflow.orchestration.storage`` (Dagster's SQLite storage, connecting
cheaply).
"""

from __future__ import annotations

import os
from pathlib import Path

from dagster import DagsterInstance

from insightflow.lake import LakeLayout

_CONFIG = """\
# Written by InsightFlow (rewritten when the lake moves): Dagster's storage for this lake.
telemetry:
  enabled: false
event_log_storage:
  module: insightflow.orchestration.storage
  class: LakeEventLogStorage
  config:
    base_dir: {events}
"""


def dagster_home(layout: LakeLayout) -> Path:
    """The folder that holds the lake's Dagster instance (``$DAGSTER_HOME`` of its processes)."""
    return layout.root / ".dagster"


def prepare_home(layout: LakeLayout) -> Path:
    """Create the instance's folder and ``dagster.yaml``; returns the folder."""
    home = dagster_home(layout)
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    text = _CONFIG.format(events=home / "history" / "runs")  # where Dagster keeps them by default
    if not config.exists() or config.read_text(encoding="utf-8") != text:
        config.write_text(text, encoding="utf-8")
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "yes")
    return home


def lake_instance(layout: LakeLayout) -> DagsterInstance:
    """The lake's Dagster instance (created on first use)."""
    return DagsterInstance.from_config(str(prepare_home(layout)))
