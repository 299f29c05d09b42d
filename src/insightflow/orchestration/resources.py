"""The lake resource: one ``RunSession`` per Dagster run, opened before the first step.

The job's steps share the session (its engine keeps the tables built so far), so the jobs run
in one process (``in_process_executor``). When the run ends — published, failed or stopped — the
session is closed: a run that did not publish is recorded as failed in ``ops.runs`` and its alert
goes out, whether it was started by ``insightflow run``, the schedule, the sensor or the UI.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

import dagster as dg
from pydantic import Field, PrivateAttr

from insightflow.errors import InsightFlowError, is_transient
from insightflow.pipeline import Lakehouse
from insightflow.session import RunSession, StartCallback, StepCallback

T = TypeVar("T")


@dataclass
class LocalRun:
    """What an in-process caller (``insightflow run``) hands to the run: Python objects that run
    config cannot carry (progress callbacks, a live Spark session), and gets back: the session."""

    on_step: StepCallback | None = None
    on_start: StartCallback | None = None
    engine_options: dict = field(default_factory=dict)
    session: RunSession | None = None


_local = threading.local()


@contextmanager
def local_run(run: LocalRun) -> Iterator[LocalRun]:
    """Attach ``run`` to the job executed in-process in this thread."""
    _local.run = run
    try:
        yield run
    finally:
        _local.run = None


class LakeResource(dg.ConfigurableResource):
    """The lake a run writes to and how it runs; defaults are the settings of the CLI."""

    lake: str
    source: str = ""
    engine: str = "duckdb"
    spark_master: str = ""
    spark_conf: dict[str, str] = Field(default_factory=dict)
    lock_timeout: float = 60.0

    _session: RunSession | None = PrivateAttr(default=None)

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator[LakeResource]:
        local: LocalRun = getattr(_local, "run", None) or LocalRun()
        options = dict(local.engine_options)
        if self.engine == "spark" and self.spark_master:
            options.setdefault("master", self.spark_master)
        if self.engine == "spark" and self.spark_conf:
            options.setdefault("conf", dict(self.spark_conf))
        session = RunSession(
            Lakehouse(self.lake, lock_timeout=self.lock_timeout),
            self.source or None,
            engine=self.engine,
            engine_options=options,
            on_step=local.on_step,
            on_start=local.on_start,
            orchestrator_run_id=context.run.run_id if context.run else None,
        )
        local.session = session
        try:
            session.open()
        except Exception as error:
            session.close(error)
            raise
        if context.instance is not None and context.run is not None:
            context.instance.add_run_tags(context.run.run_id, {"insightflow/run_id": session.run_id})
        self._session = session
        try:
            yield self
        finally:
            session.close()

    @property
    def session(self) -> RunSession:
        assert self._session is not None, "the lake resource is used outside a run"
        return self._session

    def step(self, name: str, action: Callable[[], T]) -> T:
        """Run one step of the session; an error the retry policy must not retry becomes a
        ``Failure`` (the run fails at once), a transient one is raised for a retry."""
        session = self.session
        try:
            return action()
        except Exception as error:
            told = session.fail(session.running_step() or name, error)
            if is_transient(told):
                raise told from error
            raise dg.Failure(description=str(told), allow_retries=False) from error

    def note_failure(self, name: str, error: InsightFlowError) -> None:
        """Record a failure Dagster raises itself (a blocking check) before it does."""
        self.session.fail(name, error)
