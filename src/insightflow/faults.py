"""Fault injection for the crash tests: die, fill the disk or corrupt a file at a named point.

``INSIGHTFLOW_KILL_AT=publish:marts.fact_sales`` makes the process SIGKILL itself when a run
reaches that checkpoint, as a power cut or the OOM killer would; ``INSIGHTFLOW_FAULT=disk-full:X``
raises "No space left on device" there instead, and ``INSIGHTFLOW_FAULT=corrupt:X`` truncates the
file about to be committed. ``INSIGHTFLOW_FAULT=transient:X:2`` raises a ``TransientError`` the
first 2 times X is reached in a process (then lets it pass), and ``INSIGHTFLOW_FAULT=error:X``
raises a permanent error every time. Unset (always, outside the tests), they cost one dictionary
lookup.
"""

from __future__ import annotations

import errno
import os
import signal
from collections import Counter
from pathlib import Path

from insightflow.errors import InsightFlowError, TransientError

_KILL = "INSIGHTFLOW_KILL_AT"
_FAULT = "INSIGHTFLOW_FAULT"
_REACHED: Counter[str] = Counter()


def checkpoint(name: str, staged: str | Path | None = None) -> None:
    """Mark a point between two commits (``staged``: the file about to be committed, if any)."""
    if os.environ.get(_KILL) == name:
        os.kill(os.getpid(), signal.SIGKILL)
    fault = os.environ.get(_FAULT)
    if fault == f"disk-full:{name}":
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(staged or name))
    if fault == f"corrupt:{name}" and staged is not None:  # a staged file on the local disk
        size = Path(staged).stat().st_size
        with Path(staged).open("r+b") as handle:
            handle.truncate(size // 2)
    if fault and fault.startswith("transient:"):
        point, _, times = fault.removeprefix("transient:").rpartition(":")
        if point == name:
            _REACHED[name] += 1
            if _REACHED[name] <= int(times):
                raise TransientError(f"injected transient fault at {name} (attempt {_REACHED[name]})")
    if fault == f"error:{name}":
        raise InsightFlowError(f"injected permanent fault at {name}")
