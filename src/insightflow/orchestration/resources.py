"""The lake resource: one ``RunSession`` per Dagster run, opened before the first step.

The job's steps share the session (its engine keeps the tables built so far), so the jobs run
in one process (``in_process_executor``). When the run ends — published, failed or stopped — the
session is closed: a run that did not publish is recorded as failed in ``ops.runs`` and its alert
goes out, whether it was started by the schedule, the inbox sensor or the UI.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import dagster as dg
from pydantic import Field, PrivateAttr

from insightflow.errors import InsightFlowError, is_transient
from insightflow.lake import LakeCatalog, LakeLayout
from insightflow.session import RunSession

T = TypeVar("T")

#: The sessions of the last runs executed in this process, by Dagster run id: ``run_job`` reads
#: the outcome of the run it executed in-process (its record, and the error as raised) from here.
SESSIONS: OrderedDict[str, RunSession] = OrderedDict()
_KEPT_SESSIONS = 8


class LakeResource(dg.ConfigurableResource):
    """The lake a run writes to and how it runs (engine options: ``spark_master``, ``spark_conf``)."""

    lake: str
    source: str = ""
    engine: str = "duckdb"
    spark_master: str = ""
    spark_conf: dict[str, str] = Field(default_factory=dict)
    lock_timeout: float = 60.0

    _session: RunSession | None = PrivateAttr(default=None)

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator[LakeResource]:
        options: dict = {}
        if self.spark_master:
            options["master"] = self.spark_master
        if self.spark_conf:
            options["conf"] = dict(self.spark_conf)
        session = RunSession(
            LakeCatalog(LakeLayout.resolve(self.lake)),
            self.source or None,
            engine=self.engine,
            engine_options=options,
            orchestrator_run_id=context.run.run_id if context.run else None,
            lock_timeout=self.lock_timeout,
        )
        if context.run is not None:
            SESSIONS[context.run.run_id] = session
            while len(SESSIONS) > _KEPT_SESSIONS:
                SESSIONS.popitem(last=False)
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
