"""Orchestration with Dagster: the pipeline as assets, checks, jobs, a schedule and a sensor.

``build_definitions()`` wraps the library's steps (``insightflow.run``) as Dagster assets;
``insightflow.definitions`` holds the ``Definitions`` that ``dagster dev -m insightflow.definitions``
loads (``insightflow ui``), and ``run_job()`` executes a job in-process and waits for it.
``insightflow run`` does not use Dagster: it calls the library, and the sensor of
``insightflow.orchestration.reporting`` shows its runs in the UI.
"""

from insightflow.orchestration.assets import JOBS, build_definitions
from insightflow.orchestration.execute import run_job
from insightflow.orchestration.instance import lake_instance

__all__ = ["JOBS", "build_definitions", "lake_instance", "run_job"]
