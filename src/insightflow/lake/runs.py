"""The run registry, ``ops.runs``: one row per pipeline run, and the publish pointer.

A run commits its tables one by one, then appends its record with the snapshot id of every table
it published. Readers resolve tables at the snapshots of the newest successful run, so a run that
dies between two commits changes nothing they see: its record, the publish point, never lands.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import pyarrow as pa

from insightflow.lake.catalog import LakeCatalog

RUNS_TABLE = "ops.runs"

_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("status", pa.string()),
        ("engine", pa.string()),
        ("source", pa.string()),
        ("started_at", pa.timestamp("us")),
        ("finished_at", pa.timestamp("us")),
        ("seconds", pa.float64()),
        ("error", pa.string()),
        ("steps", pa.string()),
        ("snapshots", pa.string()),
        ("checks", pa.string()),
        ("kind", pa.string()),
        ("orchestrator_run_id", pa.string()),
        ("state", pa.string()),
    ]
)

#: What a record of ``ops.runs`` stands for: a pipeline run, or a rollback that republishes.
RUN, ROLLBACK = "run", "rollback"


@dataclass
class RunRecord:
    """One pipeline run as recorded in ``ops.runs``."""

    run_id: str
    status: str
    engine: str | None  # the engine that ran the models (None for a rollback)
    source: str | None
    started_at: datetime
    finished_at: datetime
    error: str | None = None
    steps: list[dict] = field(default_factory=list)
    snapshots: dict[str, int] = field(default_factory=dict)
    checks: list[dict] = field(default_factory=list)
    kind: str = RUN
    #: The Dagster run that made it, for runs the orchestrator launched (else None).
    orchestrator_run_id: str | None = None
    #: Per model: the snapshot of each input it last read and the rows it has superseded, what
    #: the next run builds on (``insightflow.transform.inputs``).
    state: dict[str, dict] = field(default_factory=dict)
    #: What serving the run to the BI database did (``insightflow.bi``): None when no database is
    #: set; else "serves run …" or "failed: …". Known to the process that ran it (not in
    #: ``ops.runs``, written before it: its ``bi.sync`` step is in ``ops.run_history``).
    bi_sync: str | None = None

    @property
    def seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def is_rollback(self) -> bool:
        return self.kind == ROLLBACK

    @property
    def ingested_nothing(self) -> bool:
        """The run's ingest found no new file: every one was ingested before."""
        ingest = next((s for s in self.steps if s["step"] == "ingest"), None)
        return ingest is not None and not ingest["rows"] and not ingest.get("bytes_written")

    def check_counts(self) -> dict[str, int]:
        """How many of the run's checks passed, warned and failed."""
        statuses = [check.get("status", "pass") for check in self.checks]
        return {status: statuses.count(status) for status in ("pass", "warn", "fail")}


def record_run(catalog: LakeCatalog, run: RunRecord, staging: str | Path) -> int:
    """Append ``run`` to ``ops.runs``; for a successful run this is the publish point."""
    row = asdict(run)
    row.pop("bi_sync")
    row["seconds"] = run.seconds
    for name in ("steps", "snapshots", "checks", "state"):
        row[name] = json.dumps(row[name], default=str)
    path = catalog.write_parquet(pa.Table.from_pylist([row], schema=_SCHEMA), f"{staging}/run-{run.run_id}.parquet")
    snapshot = catalog.commit(RUNS_TABLE, [path], overwrite=False, properties={"insightflow.run-id": run.run_id})
    return catalog.compact(RUNS_TABLE, staging) or snapshot


def list_runs(catalog: LakeCatalog) -> list[RunRecord]:
    """Every recorded run, oldest first."""
    if not catalog.exists(RUNS_TABLE):
        return []
    files = catalog.resolve(RUNS_TABLE).files
    if not files:
        return []
    table = pa.concat_tables([catalog.read_parquet(f, schema=_SCHEMA) for f in files])
    runs = []
    for row in table.to_pylist():
        row.pop("seconds")
        for name in ("steps", "snapshots", "checks", "state"):
            row[name] = json.loads(row[name] or "null") or ({} if name in ("snapshots", "state") else [])
        # Records written before `kind` existed told a rollback by its engine.
        if not row["kind"]:
            row["kind"] = ROLLBACK if row["engine"] == ROLLBACK else RUN
            row["engine"] = None if row["kind"] == ROLLBACK else row["engine"]
        runs.append(RunRecord(**row))
    return sorted(runs, key=lambda r: (r.started_at, r.run_id))


def last_published(runs: list[RunRecord]) -> RunRecord | None:
    """The newest successful record of ``runs`` (oldest first): the run or rollback whose
    snapshots readers see. The one definition of "the published run"."""
    return next((r for r in reversed(runs) if r.status == "success"), None)


def last_built(runs: list[RunRecord]) -> RunRecord | None:
    """The newest successful run that built the models (a rollback builds nothing)."""
    return last_published([r for r in runs if not r.is_rollback])


HISTORY_TABLE = "ops.run_history"

_HISTORY_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("orchestrator_run_id", pa.string()),
        ("run_status", pa.string()),
        ("run_started_at", pa.timestamp("us")),
        ("step", pa.string()),
        ("step_status", pa.string()),
        ("seconds", pa.float64()),
        ("rows_in", pa.int64()),
        ("rows_out", pa.int64()),
        ("quarantined", pa.int64()),
        ("bytes_in", pa.int64()),
        ("bytes_written", pa.int64()),
        ("compression_ratio", pa.float64()),
        ("attempts", pa.int32()),
    ]
)


def record_history(catalog: LakeCatalog, run: RunRecord, orchestrator_run_id: str | None,
                   staging: str | Path) -> int:
    """Append one row per step of ``run`` to ``ops.run_history`` (the monitoring log)."""
    rows = [
        {
            "run_id": run.run_id,
            "orchestrator_run_id": orchestrator_run_id,
            "run_status": run.status,
            "run_started_at": run.started_at,
            "step": step["step"],
            "step_status": step.get("status", run.status),
            "seconds": step["seconds"],
            "rows_in": step.get("rows_in"),
            "rows_out": step["rows"],
            "quarantined": step.get("quarantined", 0),
            "bytes_in": step.get("bytes_in", 0),
            "bytes_written": step.get("bytes_written", 0),
            "compression_ratio": step.get("compression_ratio"),
            "attempts": step.get("attempts", 1),
        }
        for step in run.steps
    ]
    path = catalog.write_parquet(pa.Table.from_pylist(rows, schema=_HISTORY_SCHEMA),
                                 f"{staging}/history-{run.run_id}.parquet")
    snapshot = catalog.commit(HISTORY_TABLE, [path], overwrite=False, properties={"insightflow.run-id": run.run_id})
    return catalog.compact(HISTORY_TABLE, staging) or snapshot
