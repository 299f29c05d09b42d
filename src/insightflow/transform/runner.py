"""Build a model on an engine — only what its inputs changed — and check it; publish built models.

A run builds every model into staging first (``insightflow.transform.merge`` says how a table is
rebuilt and merged); only when every ``error`` check has passed are the tables and their
quarantines committed, and the run's record — the publish point readers follow — is appended last
(``insightflow.run``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from insightflow.errors import ModelError
from insightflow.faults import checkpoint
from insightflow.lake import LakeCatalog
from insightflow.quality import CheckResult, run_checks
from insightflow.transform.engine import BuildResult, Engine
from insightflow.transform.merge import Changes, ModelMerge, ModelState, work
from insightflow.transform.models import Model


@dataclass
class Built:
    """What ``build_model`` returns: the build and its changes for the models after it."""

    result: BuildResult
    changes: Changes


def build_model(
    engine: Engine,
    model: Model,
    staging: str | Path,
    *,
    state: ModelState | None = None,
    changes: dict[str, Changes] | None = None,
    full_refresh: bool = False,
) -> Built:
    """Build ``model`` into ``staging`` — whole, or only what ``changes`` of its inputs touch.

    The engine reads every input under its table name (as this run sees it) and ``state``'s
    relations; afterwards ``model.table`` names the model's new rows for the models after it.
    """
    checkpoint(f"build:{model.table}")
    started = time.perf_counter()
    with _building(model, engine):
        build = ModelMerge(engine, model, str(staging), state, changes or {}, full_refresh)
        try:
            result, delta = build.run()
        finally:  # what only this build needed: its memory goes to the models after it
            for part in ("source", "retry", "affected", "eval", "repeated", "dispositions", "quarantine"):
                engine.drop(work(model.table, part))
    result.seconds = time.perf_counter() - started
    return Built(result, delta)


def check_model(engine: Engine, model: Model, result: BuildResult,
                previous_rows: int | None = None) -> list[CheckResult]:
    """Run the checks of a model built in this run (and its row conservation); none when nothing
    was evaluated. ``previous_rows`` is the table's row count in the last successful run."""
    if not result.evaluated:
        return []
    started = time.perf_counter()
    with _building(model, engine):
        checks = [_conservation(model, result)] if model.conserves else []
        checks += run_checks(model.table, model.checks, engine.query, previous_rows)
    result.seconds += time.perf_counter() - started
    return checks


@contextmanager
def _building(model: Model, engine: Engine) -> Iterator[None]:
    try:
        yield
    except ModelError as error:
        raise ModelError(f"model {model.table} failed on {engine.label}: {error}") from None


def publish(catalog: LakeCatalog, builds: list[BuildResult], run_id: str) -> dict[str, int]:
    """Commit every built table and quarantine that changed; returns the new snapshot id of each.

    Nothing of these commits is visible before the run's record is appended, so their order does
    not matter: on an object store, where a commit is mostly waiting for requests, they run four
    at a time.
    """
    properties = {"insightflow.run-id": run_id}

    def commit(build: BuildResult) -> dict[str, int]:
        snapshots = {}
        if build.published_files is not None:
            checkpoint(f"publish:{build.table}", build.published_files[0])
            snapshots[build.table] = catalog.commit(
                build.table, build.published_files, overwrite=True, properties=properties
            )
        if build.quarantine_table and build.quarantine_files is not None:
            unchanged = catalog.empty_snapshot(build.quarantine_table) if build.quarantined == 0 else None
            # An empty quarantine that was empty already keeps its snapshot: nothing to commit.
            snapshots[build.quarantine_table] = unchanged or catalog.commit(
                build.quarantine_table, build.quarantine_files, overwrite=True, properties=properties
            )
        return snapshots

    snapshots: dict[str, int] = {}
    for committed in catalog.concurrently(commit, builds):
        snapshots |= committed
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
