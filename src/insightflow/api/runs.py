"""Pipeline runs started through the API, each in a background thread."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

from insightflow.lakehouse import Lakehouse


class RunJobs:
    """Background runs of one lake, by job id (the run id is known once the run is recorded)."""

    def __init__(self, lake_root: Path) -> None:
        self.lake_root = lake_root
        self._jobs: dict[str, dict] = {}
        self._lock = threading.Lock()

    def start(self, source: str | None) -> dict:
        job_id = uuid.uuid4().hex[:12]
        job = {"job_id": job_id, "status": "running", "run_id": None, "source": source,
               "started_at": datetime.now(UTC).isoformat(), "finished_at": None, "error": None}
        with self._lock:
            self._jobs[job_id] = job
        threading.Thread(target=self._run, args=(job_id, source), daemon=True, name=f"run-{job_id}").start()
        return dict(job)

    def get(self, job_id: str) -> dict | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return dict(job) if job else None

    def _run(self, job_id: str, source: str | None) -> None:
        update: dict = {}
        try:
            # A run gets its own Lakehouse (its own catalog connection) and holds the lake's lock.
            record = Lakehouse(self.lake_root).run(source)
            update = {"status": record.status, "run_id": record.run_id}
        except Exception as error:  # recorded in the job and in ops.runs; the API stays up
            update = {"status": "failed", "error": " ".join(str(error).split()) or type(error).__name__}
        with self._lock:
            self._jobs[job_id].update(update, finished_at=datetime.now(UTC).isoformat())
