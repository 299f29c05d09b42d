"""The audit log: one JSON line per query and API call, appended to ``<lake>/audit/audit.jsonl``.

The file is only ever opened with ``O_APPEND`` and each entry is one ``write``, so concurrent
writers never interleave and no code path of InsightFlow can rewrite or truncate an entry.
"""

from __future__ import annotations

import json
import os
from collections import deque
from datetime import UTC, datetime
from pathlib import Path

from insightflow.lake import LakeLayout

AUDIT_FOLDER = "audit"
AUDIT_FILE = "audit.jsonl"


class AuditLog:
    """Append-only record of who asked what, when, and how it went."""

    def __init__(self, layout: LakeLayout) -> None:
        self.path = layout.root / AUDIT_FOLDER / AUDIT_FILE

    def append(self, *, who: str, role: str, action: str, outcome: str, rows: int | None = None,
               seconds: float | None = None, **detail: object) -> None:
        """Append one entry (``action``: a statement, a KPI name or ``METHOD /path``)."""
        entry = {
            "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "who": who,
            "role": role,
            "action": action,
            "rows": rows,
            "seconds": None if seconds is None else round(seconds, 4),
            "outcome": outcome,
            **detail,
        }
        line = (json.dumps(entry, default=str, ensure_ascii=False) + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def last(self, count: int = 20) -> list[dict]:
        """The newest ``count`` entries, oldest first."""
        if not Path(self.path).exists():
            return []
        with open(self.path, encoding="utf-8") as handle:
            return [json.loads(line) for line in deque(handle, maxlen=max(count, 0)) if line.strip()]
