"""``insightflow ui``: the Dagster UI (webserver + daemon for the schedule and sensor) of a lake.

Hands over to ``dagster dev`` on 127.0.0.1 with ``DAGSTER_HOME`` set to the lake's instance, so
the runs of ``insightflow run`` are in its history, and ``INSIGHTFLOW_LAKE`` set to the lake, so
``insightflow.definitions`` describes this lake.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from insightflow.errors import UsageError
from insightflow.lake import LakeLayout
from insightflow.orchestration.instance import prepare_home

DEFAULT_PORT = 3000


def command(port: int = DEFAULT_PORT) -> list[str]:
    """The ``dagster dev`` command line: loopback only, the definitions module of the package."""
    return [sys.executable, "-m", "dagster", "dev", "-m", "insightflow.definitions",
            "--host", "127.0.0.1", "--port", str(port)]


def environment(lake_root: Path) -> dict[str, str]:
    home = prepare_home(LakeLayout(lake_root))
    return {**os.environ, "DAGSTER_HOME": str(home), "INSIGHTFLOW_LAKE": str(lake_root),
            "DAGSTER_DISABLE_TELEMETRY": "yes"}


def serve(lake_root: Path, port: int = DEFAULT_PORT) -> None:
    """Replace this process with ``dagster dev`` for the lake at ``lake_root``."""
    if not 1 <= port <= 65535:
        raise UsageError(f"--port must be 1 to 65535, not {port}")
    env = environment(lake_root)
    sys.stderr.write(f"InsightFlow orchestration UI on http://127.0.0.1:{port} for the lake at {lake_root}\n")
    sys.stderr.flush()
    os.execve(sys.executable, command(port), env)
