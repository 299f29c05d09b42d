"""What each model of a run reads: its published state, and what changed in each input since.

A published run's record keeps, per model, the snapshot of every input the model last read and the
rows it has superseded so far (``RunRecord.state``). The next run compares: a raw table's new data
files are the loads added since; a model built in this run hands over its changed rows; an input
at the snapshot the model read has not changed; anything else (an expired or rolled-back snapshot,
a lake written by an older version, ``--full-refresh``) makes the model rebuild whole.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from insightflow.contracts import load_contracts
from insightflow.errors import LakeError
from insightflow.lake import LakeCatalog, RunRecord
from insightflow.transform.engine import Engine
from insightflow.transform.merge import ROWS, UNCHANGED, UNKNOWN_CHANGES, Changes, ModelState, work
from insightflow.transform.models import Model
from insightflow.transform.runner import Built


def is_raw(table: str) -> bool:
    return table in {c.table for c in load_contracts().values()}


@dataclass
class _Read:
    """A model built in this run: the input snapshots it read, and its changes for the next ones."""

    base: int | None  # its published snapshot, which its changes are relative to
    fingerprint: str
    changes: Changes
    inputs: dict[str, int | None]
    superseded: int


class RunInputs:
    """The inputs of the models of one run, registered in its engine as each model needs them."""

    def __init__(self, catalog: LakeCatalog, engine: Callable[[], Engine], previous: RunRecord | None,
                 *, full_refresh: bool = False) -> None:
        self.catalog = catalog
        self.engine = engine
        self.previous = previous
        self.full_refresh = full_refresh
        self._registered: dict[str, int | None] = {}  # table -> the snapshot registered
        self._built: dict[str, _Read] = {}

    def register(self, name: str) -> None:
        """Make an input readable: built in this run, a raw table as it is, else as last published."""
        if name in self._registered or name in self._built:
            return
        if not self.catalog.exists(name):
            hint = ("ingest an export that holds its source file" if is_raw(name)
                    else "run the stage that builds it first")
            raise LakeError(f"{name} has no data yet: {hint}")
        # A run reads the raw tables as they are (its own loads and those of an `ingest`), and the
        # tables it does not build as last published.
        snapshot = None if is_raw(name) else self._published(name)
        table = self.catalog.resolve(name, snapshot)
        self.engine().register(table)
        self._registered[name] = table.snapshot_id

    def state_of(self, model: Model) -> ModelState | None:
        """The model as the published run left it (registered in the engine), or None: build whole."""
        entry = self._entry(model)
        snapshot = self._published(model.table)
        if entry is None or snapshot is None or self.full_refresh or entry.get("model") != model.fingerprint:
            return None
        try:
            table = self.catalog.resolve(model.table, snapshot)
            quarantine_snapshot = self._published(model.quarantine_table)
            quarantine = (self.catalog.resolve(model.quarantine_table, quarantine_snapshot)
                          if quarantine_snapshot is not None else None)
        except LakeError:  # an expired snapshot: no state to build on
            return None
        engine = self.engine()
        engine.register(table, work(model.table, "current"))
        if quarantine is not None:
            engine.register(quarantine, work(model.table, "quarantine_current"))
        return ModelState(work(model.table, "current"),
                          work(model.table, "quarantine_current") if quarantine else None,
                          dict(table.columns), int(entry.get("superseded", 0)))

    def changes_of(self, model: Model) -> dict[str, Changes]:
        """For each input of ``model``: what changed since the snapshot the model last read."""
        entry = self._entry(model)
        read = (entry or {}).get("inputs", {})
        return {name: self._changes(model, name, read.get(name, -1)) for name in model.depends_on}

    def built(self, model: Model, built: Built) -> None:
        """Remember what ``model`` read and what it changed, for the models after it."""
        inputs = {name: (None if name in self._built else self._registered.get(name)) for name in model.depends_on}
        self._built[model.table] = _Read(self._published(model.table), model.fingerprint, built.changes,
                                         inputs, built.result.superseded)

    def state(self, snapshots: dict[str, int]) -> dict[str, dict]:
        """The state to record with the run, given the snapshots it publishes: the previous one,
        with the entry of every model built now (inputs built in this run at their new snapshot)."""
        state = dict(self.previous.state) if self.previous else {}
        for table, read in self._built.items():
            inputs = {name: snapshots.get(name) if snapshot is None else snapshot
                      for name, snapshot in read.inputs.items()}
            state[table] = {"model": read.fingerprint, "inputs": inputs, "superseded": read.superseded}
        return state

    # --- helpers ------------------------------------------------------------------------------

    def _changes(self, model: Model, name: str, read: int | None) -> Changes:
        if name in self._built:  # built in this run: its changes hold if the model read its base
            built = self._built[name]
            return built.changes if read == built.base else UNKNOWN_CHANGES
        self.register(name)
        current = self._registered[name]
        if read == current:
            return UNCHANGED
        if not is_raw(name) or read is None or read == -1:
            return UNKNOWN_CHANGES
        try:
            before = self.catalog.resolve(name, read)
        except LakeError:  # expired: the loads since are unknown
            return UNKNOWN_CHANGES
        now = self.catalog.resolve(name, current)
        earlier = set(before.files)
        if not earlier <= set(now.files):  # files went away (a rollback of the raw table)
            return UNKNOWN_CHANGES
        added = tuple(f for f in now.files if f not in earlier)
        if not added:
            return UNCHANGED
        engine = self.engine()
        new_rows, old_rows = work(name, f"new_for_{model.table}"), work(name, f"earlier_for_{model.table}")
        engine.register(replace(now, files=added), new_rows)
        engine.register(replace(now, files=before.files), old_rows)
        return Changes(ROWS, new_rows, old_rows)

    def _entry(self, model: Model) -> dict | None:
        return (self.previous.state or {}).get(model.table) if self.previous else None

    def _published(self, table: str) -> int | None:
        return self.previous.snapshots.get(table) if self.previous else None

