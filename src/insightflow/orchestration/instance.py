"""The Dagster instance of a lake: run history and event log in ``<lake>/.dagster``, or on PostgreSQL.

The instance's home is the lake folder's ``.dagster``; its ``dagster.yaml`` turns Dagster's
telemetry and its first-visit "join the community" dialog (``nux``) off and selects the storage: by default Dagster's SQLite files there, with the event log
storage of ``insightflow.orchestration.storage`` (connecting cheaply); with
``INSIGHTFLOW_DAGSTER_POSTGRES_URL`` set, Dagster's PostgreSQL storage (dagster-postgres), so that
the daemon and the UI can run on other machines than the runs they show. The URL (it may hold a
password) is read from the environment by Dagster itself, never written to the file.
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
nux:
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


_POSTGRES_CONFIG = """\
# Written by InsightFlow: Dagster's storage for this lake, on PostgreSQL (shared by its machines).
telemetry:
  enabled: false
nux:
  enabled: false
storage:
  postgres:
    postgres_url:
      env: INSIGHTFLOW_DAGSTER_POSTGRES_URL
"""


def prepare_home(layout: LakeLayout) -> Path:
    """Create the instance's folder and ``dagster.yaml``; returns the folder."""
    from insightflow.settings import Settings

    home = dagster_home(layout)
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    url = Settings.load(layout.root).dagster_postgres_url
    if url:
        text = _POSTGRES_CONFIG
        # dagster-postgres speaks psycopg2 (SQLAlchemy 2.1 would pick psycopg 3 for "postgresql://",
        # on which Dagster's NOTIFY statements fail): the URL names the driver.
        scheme, _, rest = url.partition("://")
        if scheme in ("postgres", "postgresql"):
            os.environ["INSIGHTFLOW_DAGSTER_POSTGRES_URL"] = f"postgresql+psycopg2://{rest}"
    else:
        text = _CONFIG.format(events=home / "history" / "runs")  # where Dagster keeps them by default
    if not config.exists() or config.read_text(encoding="utf-8") != text:
        config.write_text(text, encoding="utf-8")
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "yes")
    return home


def lake_instance(layout: LakeLayout) -> DagsterInstance:
    """The lake's Dagster instance (created on first use)."""
    return DagsterInstance.from_config(str(prepare_home(layout)))
