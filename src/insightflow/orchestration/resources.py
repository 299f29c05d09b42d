"""The lake resource: one ``PipelineRun`` per Dagster run, opened before the first step.

The job's steps share the pipeline run (its engine keeps the tables built so far), so the jobs run
in one process (``in_process_executor``). When the run ends — published, failed or stopped — the
pipeline run is closed: a run that did not publish is recorded as failed in ``ops.runs`` and its alert
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
from insightflow.run import PipelineRun

T = TypeVar("T")

#: The runs of the last runs executed in this process, by Dagster run id: ``run_job`` reads
#: the outcome of the run it executed in-process (its record, and the error as raised) from here.
RUNS_IN_PROCESS: OrderedDict[str, PipelineRun] = OrderedDict()
_KEPT_RUNS = 8


class LakeResource(dg.ConfigurableResource):
    """The lake a run writes to and how it runs (engine options: ``spark_master``, ``spark_conf``)."""

    lake: str
    source: str = ""
    engine: str = "duckdb"
    spark_master: str = ""
    spark_conf: dict[str, str] = Field(default_factory=dict)
    lock_timeout: float = 60.0

    _pipeline_run: PipelineRun | None = PrivateAttr(default=None)

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator[LakeResource]:
        options: dict = {}
        if self.spark_master:
            options["master"] = self.spark_master
        if self.spark_conf:
            options["conf"] = dict(self.spark_conf)
        pipeline_run = PipelineRun(
            LakeCatalog(LakeLayout.resolve(self.lake)),
            self.source or None,
            engine=self.engine,
            engine_options=options,
            orchestrator_run_id=context.run.run_id if context.run else None,
            lock_timeout=self.lock_timeout,
        )
        if context.run is not None:
            RUNS_IN_PROCESS[context.run.run_id] = pipeline_run
            while len(RUNS_IN_PROCESS) > _KEPT_RUNS:
                RUNS_IN_PROCESS.popitem(last=False)
        try:
            pipeline_run.open()
        except Exception as error:
            pipeline_run.close(error)
            raise
        if context.instance is not None and context.run is not None:
            context.instance.add_run_tags(context.run.run_id, {"insightflow/run_id": pipeline_run.run_id})
        self._pipeline_run = pipeline_run
        try:
            yield self
        finally:
            pipeline_run.close()

    @property
    def pipeline_run(self) -> PipelineRun:
        assert self._pipeline_run is not None, "the lake resource is used outside a run"
        return self._pipeline_run

    def step(self, name: str, action: Callable[[], T]) -> T:
        """Run one step of the pipeline run; an error the retry policy must not retry becomes a
        ``Failure`` (the run fails at once), a transient one is raised for a retry."""
        pipeline_run = self.pipeline_run
        try:
            return action()
        except Exception as error:
            told = pipeline_run.fail(pipeline_run.running_step() or name, error)
            if is_transient(told):
                raise told from error
            raise dg.Failure(description=str(told), allow_retries=False) from error

    def note_failure(self, name: str, error: InsightFlowError) -> None:
        """Record a failure Dagster raises itself (a blocking check) before it does."""
        self.pipeline_run.fail(name, error)
