"""Fault injection for the crash tests: die at a named point of a run.

``INSIGHTFLOW_KILL_AT=publish:marts.fact_sales`` makes the process SIGKILL itself when the run
reaches that checkpoint, exactly as a power cut or the OOM killer would. Unset, it costs nothing.
"""

from __future__ import annotations

import os
import signal

_ENV = "INSIGHTFLOW_KILL_AT"


def checkpoint(name: str) -> None:
    """Mark a point between two commits; die here if the crash tests asked for it."""
    if os.environ.get(_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
