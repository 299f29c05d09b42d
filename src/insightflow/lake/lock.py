"""The lake lock: one run at a time writes to a lake.

An exclusive ``flock`` on ``lake/.lock``: the operating system releases it when the holder dies,
however it dies, so a killed run never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from insightflow.errors import LakeBusyError
from insightflow.lake.layout import LakeLayout


@contextmanager
def lake_lock(
    layout: LakeLayout, timeout: float = 60.0, poll: float = 0.1, *, file: Path | None = None
) -> Iterator[None]:
    """Hold the lake's write lock; wait up to ``timeout`` seconds for another run to finish.

    ``file``: another lock file of the lake (default: its write lock, ``lake/.lock``).
    """
    layout.root.mkdir(parents=True, exist_ok=True)
    lock_file = file or layout.lock_file
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
                    raise LakeBusyError(
                        f"the lake at {layout.root} is busy: a run by {holder} still holds its lock "
                        f"after {timeout:g} s; try again when it has finished"
                    ) from None
                time.sleep(poll)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}".encode(), 0)
        yield
    finally:
        os.close(fd)
