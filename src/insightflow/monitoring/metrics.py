"""Run metrics in the Prometheus text format, from ``ops.runs``.

Written after every run to ``<lake>/metrics/insightflow.prom`` (point node_exporter's textfile
collector at that folder), and printed by ``insightflow metrics``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest, write_to_textfile
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from insightflow.lake import LakeCatalog, LakeLayout, RunRecord, list_runs

_STEP_GAUGES = (
    ("step_duration_seconds", "Seconds the step took in the newest run", "seconds"),
    ("step_rows_in", "Rows the step read in the newest run", "rows_in"),
    ("step_rows_out", "Rows the step wrote (published) in the newest run", "rows"),
    ("step_quarantined_rows", "Rows the step quarantined in the newest run", "quarantined"),
    ("step_bytes_written", "Bytes of Parquet the step wrote in the newest run", "bytes_written"),
    ("step_compression_ratio", "Bytes before over bytes written, newest run", "compression_ratio"),
    ("step_attempts", "Attempts the step needed in the newest run (retries + 1)", "attempts"),
)


def metrics_path(layout: LakeLayout) -> Path:
    return layout.root / "metrics" / "insightflow.prom"


class RunCollector(Collector):
    """Collects the metrics of a lake's recorded runs (rollbacks excluded)."""

    def __init__(self, runs: list[RunRecord]) -> None:
        self.runs = [r for r in runs if not r.is_rollback]

    def collect(self) -> Iterator:
        runs = self.runs
        by_status = CounterMetricFamily("insightflow_runs", "Pipeline runs by final status", labels=["status"])
        for status, count in sorted(Counter(r.status for r in runs).items()):
            by_status.add_metric([status], count)
        for status in {"success", "failed"} - {r.status for r in runs}:
            by_status.add_metric([status], 0)
        yield by_status
        processed = CounterMetricFamily(
            "insightflow_rows_processed", "Rows written by each step, over every successful run", labels=["step"]
        )
        totals: Counter[str] = Counter()
        for run in runs:
            if run.status == "success":
                for step in run.steps:
                    totals[step["step"]] += step.get("rows") or 0
        for step, rows in sorted(totals.items()):
            processed.add_metric([step], rows)
        yield processed
        successes = [r for r in runs if r.status == "success"]
        if successes:
            yield GaugeMetricFamily(
                "insightflow_last_success_timestamp_seconds", "When the newest successful run finished",
                value=successes[-1].finished_at.timestamp(),
            )
        if not runs:
            return
        last = runs[-1]
        yield GaugeMetricFamily("insightflow_last_run_timestamp_seconds", "When the newest run finished",
                                value=last.finished_at.timestamp())
        yield GaugeMetricFamily("insightflow_last_run_success", "1 if the newest run succeeded, else 0",
                                value=1.0 if last.status == "success" else 0.0)
        yield GaugeMetricFamily("insightflow_last_run_duration_seconds", "Seconds the newest run took",
                                value=last.seconds)
        for name, documentation, key in _STEP_GAUGES:
            family = GaugeMetricFamily(f"insightflow_{name}", documentation, labels=["step"])
            for step in last.steps:
                if step.get(key) is not None:
                    family.add_metric([step["step"]], float(step[key]))
            yield family


def _registry(catalog: LakeCatalog) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RunCollector(list_runs(catalog)))
    return registry


def render_metrics(catalog: LakeCatalog) -> str:
    """The metrics of the lake's runs, in the Prometheus text exposition format."""
    return generate_latest(_registry(catalog)).decode()


def write_metrics(catalog: LakeCatalog, path: Path) -> Path:
    """Write the metrics file atomically (a scraper never reads half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), _registry(catalog))
    return path
