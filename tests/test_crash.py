"""A run killed at any point between two commits leaves the last published figures readable,
and the next run succeeds and matches a clean run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.exports import ORDERS, write_export

pytestmark = pytest.mark.slow

CHECKPOINTS = [
    "ingest:raw.orders",
    "build:curated.order_dim",
    "publish:curated.customer_dim",
    "publish:curated.order_dim",
    "publish:marts.fact_sales",
    "publish:marts.order_summary",
    "record-run",
]


def _cli(*args: str, lake: Path, kill_at: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "INSIGHTFLOW_KILL_AT"}
    if kill_at:
        env["INSIGHTFLOW_KILL_AT"] = kill_at
    return subprocess.run(
        [sys.executable, "-m", "insightflow.cli", *args, "--lake", str(lake)],
        capture_output=True, text=True, timeout=300, env=env,
    )


def _kpis(lake: Path) -> dict:
    result = _cli("kpis", "--format", "json", lake=lake)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
def test_sigkill_between_commits_keeps_the_last_good_snapshot(checkpoint: str, tmp_path: Path) -> None:
    first = write_export(tmp_path / "first")
    changed = write_export(tmp_path / "changed", {"orders": [[*o[:3], str(int(o[3]) + 1), *o[4:]] for o in ORDERS]})
    lake = tmp_path / "lake"
    assert _cli("run", "--source", str(first), lake=lake).returncode == 0
    published = _kpis(lake)

    killed = _cli("run", "--source", str(changed), lake=lake, kill_at=checkpoint)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert _kpis(lake) == published

    assert _cli("run", "--source", str(changed), lake=lake).returncode == 0
    clean = tmp_path / "clean"
    assert _cli("run", "--source", str(first), lake=clean).returncode == 0
    assert _cli("run", "--source", str(changed), lake=clean).returncode == 0
    assert _kpis(lake) == _kpis(clean)
    assert not list((lake / "staging").iterdir())
