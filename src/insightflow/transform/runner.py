"""Build every model on an engine, check it, and publish the results as one run.

Nothing is committed until every model has been built and every ``error`` check has passed; then
each table and its quarantine are committed (full overwrite), and the run's record — the publish
point readers follow — is appended last.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from insightflow.errors import LakeError, QualityGateError
from insightflow.faults import checkpoint
from insightflow.lake import LakeCatalog
from insightflow.quality import CheckResult, run_checks
from insightflow.transform.engine import BuildResult, Engine
from insightflow.transform.models import Model, load_models

StepCallback = Callable[[str, float, int], None]


@dataclass
class TransformResult:
    builds: list[BuildResult] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)


def source_tables(models: tuple[Model, ...]) -> list[str]:
    """Tables the models read but do not build: the raw tables."""
    built = {m.table for m in models}
    return sorted({d for m in models for d in m.depends_on if d not in built})


def build_all(
    engine: Engine,
    catalog: LakeCatalog,
    staging: Path,
    *,
    models: tuple[Model, ...] | None = None,
    on_step: StepCallback | None = None,
    previous_rows: dict[str, int] | None = None,
) -> TransformResult:
    """Build every model into ``staging`` and run its checks; raise if a blocking check fails.

    ``previous_rows`` holds each table's rows in the last successful run (for ``volume`` checks).
    """
    models = models or load_models()
    for name in source_tables(models):
        if not catalog.exists(name):
            raise LakeError(f"{name} has no data yet: ingest an export that holds its source file")
        engine.register(catalog.resolve(name))
    result = TransformResult()
    for model in models:
        checkpoint(f"build:{model.table}")
        build = engine.build(model, staging)
        result.builds.append(build)
        started = time.perf_counter()
        if model.conserves:
            result.checks.append(_conservation(model, build))
        result.checks += run_checks(
            model.table, model.checks, engine.query, (previous_rows or {}).get(model.table)
        )
        build.seconds += time.perf_counter() - started
        if on_step:
            on_step(model.table, build.seconds, build.rows)
    blocking = [c for c in result.checks if c.blocking]
    if blocking:
        summary = " | ".join(c.describe() for c in blocking)
        error = QualityGateError(f"{len(blocking)} blocking checks failed, nothing published: {summary}")
        error.checks = result.checks
        raise error
    return result


def publish(catalog: LakeCatalog, result: TransformResult, run_id: str) -> dict[str, int]:
    """Commit every built table and its quarantine; returns the new snapshot id of each."""
    snapshots = {}
    properties = {"insightflow.run-id": run_id}
    for build in result.builds:
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
