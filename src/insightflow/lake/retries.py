"""Catalog operations retried in place when they fail for a transient reason.

A commit can meet a busy SQLite file, an interrupted call or another writer's commit to the same
table (``insightflow.errors.is_transient`` says which failures are worth another try). It is tried
again a few times with exponential backoff; anything else fails at once, as a ``LakeError``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from insightflow.errors import LakeError, is_transient, one_line

T = TypeVar("T")

#: Attempts of a catalog operation that failed for a transient reason, and the first pause.
RETRIES, BACKOFF_SECONDS = 4, 0.1


def retrying(name: str, operation: Callable[[], T]) -> T:
    """Run a catalog operation on table ``name``, retrying transient failures with exponential backoff.

    Permanent failures (disk full, permission denied, a corrupt file) fail at once, as a
    ``LakeError`` naming the table and the cause.
    """
    for attempt in range(RETRIES):
        try:
            return operation()
        except LakeError:
            raise
        except Exception as error:
            if is_transient(error) and attempt < RETRIES - 1:
                time.sleep(BACKOFF_SECONDS * 4**attempt)
                continue
            cause = error.strerror if isinstance(error, OSError) and error.strerror else error
            raise LakeError(f"committing {name} failed: {one_line(cause)}") from error
    raise AssertionError("unreachable")
