"""Build a model on an engine and check it; publish built models.

A run (``insightflow.session``) builds every model into staging first; only when every ``error``
check has passed are the tables and their quarantines committed (full overwrite), and the run's
record — the publish point readers follow — is appended last.
"""

from __future__ import annotations

import time
from pathlib import Path

from insightflow.faults import checkpoint
from insightflow.lake import LakeCatalog
from insightflow.quality import CheckResult, run_checks
from insightflow.transform.engine import BuildResult, Engine
from insightflow.transform.models import Model


def build_model(
    engine: Engine, model: Model, staging: Path, previous_rows: int | None = None
) -> tuple[BuildResult, list[CheckResult]]:
    """Build one model into ``staging`` and run its checks (and its row conservation).

    ``previous_rows`` is the table's row count in the last successful run (for ``volume`` checks).
    """
    checkpoint(f"build:{model.table}")
    build = engine.build(model, staging)
    started = time.perf_counter()
    checks = [_conservation(model, build)] if model.conserves else []
    checks += run_checks(model.table, model.checks, engine.query, previous_rows)
    build.seconds += time.perf_counter() - started
    return build, checks


def publish(catalog: LakeCatalog, builds: list[BuildResult], run_id: str) -> dict[str, int]:
    """Commit every built table and its quarantine; returns the new snapshot id of each."""
    snapshots = {}
    properties = {"insightflow.run-id": run_id}
    for build in builds:
        checkpoint(f"publish:{build.table}", build.published_files[0])
        snapshots[build.table] = catalog.commit(
            build.table, build.published_files, overwrite=True, properties=properties
        )
        if build.quarantine_table:
            unchanged = catalog.empty_snapshot(build.quarantine_table) if build.quarantined == 0 else None
            # An empty quarantine that was empty already keeps its snapshot: nothing to commit.
            snapshots[build.quarantine_table] = unchanged or catalog.commit(
                build.quarantine_table, build.quarantine_files, overwrite=True, properties=properties
            )
    return snapshots


def _conservation(model: Model, build: BuildResult) -> CheckResult:
    """Every input row is published, quarantined or superseded by a newer load: none vanishes."""
    assert build.input_rows is not None
    missing = build.input_rows - build.output_rows
    example = {
        "input": build.input_rows,
        "published": build.rows,
        "quarantined": build.quarantined,
        "superseded": build.superseded,
    }
    return CheckResult(
        model.table, f"row_conservation({model.conserves})", "error", abs(missing), [example] if missing else []
    )
