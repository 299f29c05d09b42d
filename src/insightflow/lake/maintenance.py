"""Changes to a lake outside a run: rolling a table back to an old snapshot, starting a lake
folder over. Both hold the lake's lock while they change it."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from insightflow.errors import InsightFlowError, UsageError
from insightflow.lake.catalog import LakeCatalog
from insightflow.lake.runs import ROLLBACK, RunRecord, last_published, list_runs, record_run


def rollback_table(catalog: LakeCatalog, table: str, snapshot_id: int,
                   published: Callable[[], dict[str, int]], lock_timeout: float) -> RunRecord:
    """Make ``snapshot_id`` of ``table`` current again as a new commit and publish it: a record of
    kind ``rollback`` in ``ops.runs`` republishing what ``published()`` says readers see (asked
    under the lock, so no run publishes in between) with ``table`` at its new snapshot. Undone by
    rolling back to the previous snapshot."""
    started = datetime.now(UTC)
    run_id = f"{started:%Y%m%dT%H%M%S}-rollback-{uuid.uuid4().hex[:6]}"
    with catalog.lock(lock_timeout):
        if not any(s.snapshot_id == snapshot_id for s in catalog.snapshots(table)):
            raise InsightFlowError(f"table {table} has no snapshot {snapshot_id}; "
                                   f"`insightflow snapshots {table}` lists them")
        last = last_published(list_runs(catalog))
        new_snapshot = catalog.set_current_snapshot(table, snapshot_id)
        # The rolled-back table has no incremental state: the next run rebuilds it whole (and
        # the models reading it, whose inputs no longer match).
        state = {name: entry for name, entry in (last.state if last else {}).items() if name != table}
        record = RunRecord(run_id, "success", None, f"{table}@{snapshot_id}", started,
                           datetime.now(UTC), snapshots={**published(), table: new_snapshot},
                           steps=[{"step": f"rollback.{table}", "seconds": 0.0, "rows": 0}],
                           kind=ROLLBACK, state=state)
        staging = f"{catalog.storage.staging}/{run_id}"
        record_run(catalog, record, staging)
        catalog.storage.delete_tree(staging)
        catalog.backup()
    return record


def reset_folder(catalog: LakeCatalog, lock_timeout: float) -> list[str]:
    """Delete everything the lake folder holds but its settings and API tokens (tables, landing
    copies, catalog, history, inbox, orchestrator home); returns what was deleted."""
    if catalog.storage.remote or not catalog.local:
        raise UsageError("reset works on a lake folder with its own catalog and warehouse; a shared lake "
                         "is dropped with its store's and catalog's own tools")
    layout = catalog.layout
    if not layout.root.exists():
        return []
    keep = {layout.root / "insightflow.toml", layout.api_tokens, layout.lock_file}
    removed = []
    with catalog.lock(lock_timeout):
        for entry in sorted(layout.root.iterdir()):
            if entry in keep:
                continue
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
            removed.append(entry.name)
    return removed
