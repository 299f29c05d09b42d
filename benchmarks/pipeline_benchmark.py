"""Time the whole `insightflow run` against two bare-DuckDB floors, side by side, in one run.

    python benchmarks/pipeline_benchmark.py [--source DIR] [--scales 1 10 100] [--repeat 2]
                                            [--baseline SRC_DIR] [--equal-work-memory-limit 3GB]

The floor (benchmarks/bare_duckdb.py) builds the dims and the fact and nothing else; the
equal-work floor (benchmarks/equal_work_floor.py) writes what a first run writes — landing copies,
the raw zone with its lineage, the six models and their quarantines — and runs their checks, in
one DuckDB script without InsightFlow's code, PyIceberg or a catalog.

Each measurement is a fresh process (imports included) on a fresh lake, so the figures are what a
user waits for on a first run. The source is the reference export ($INSIGHTFLOW_REFERENCE_DATA)
when given, else a synthetic scale-1 export; scale N is an N-times copy with ids shifted per copy
(benchmarks/scaled_copy.py). Prints wall seconds (best and median of --repeat), CPU seconds, peak
RSS, per-step times of the pipeline and the ratios pipeline / floor and pipeline / equal-work floor.

``--baseline`` names the ``src`` folder of another version of InsightFlow (for example a
``git worktree`` of the last commit): its runs alternate with this version's, each in a fresh
process, so that both see the same machine load, and the ratio of their medians is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass
class Timing:
    """One fresh process: wall and CPU seconds (user + system), peak RSS in MB."""

    wall: float
    cpu: float
    rss_mb: float


@dataclass
class Series:
    """Repeated measurements of one command, with the pipeline's per-step seconds."""

    timings: list[Timing] = field(default_factory=list)
    steps: dict[str, list[float]] = field(default_factory=dict)

    def best(self) -> Timing:
        return min(self.timings, key=lambda t: t.wall)

    def median(self, attribute: str) -> float:
        return statistics.median(getattr(t, attribute) for t in self.timings)

    def summary(self) -> str:
        return (f"best {self.best().wall:6.2f} s, median {self.median('wall'):6.2f} s, "
                f"cpu {self.median('cpu'):6.2f} s, {max(t.rss_mb for t in self.timings):5.0f} MB")


def timed(command: list[str], env: dict[str, str] | None = None) -> Timing:
    """Run ``command`` in a fresh process; its wall and CPU seconds and peak RSS."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"{' '.join(command)} failed: {process.stderr.read().decode()[-2000:]}")
    return Timing(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def scaled_source(base: Path, work: Path, scale: int) -> Path:
    """``base`` (scale 1), or a ``scale``-times copy of it with shifted ids in ``work``."""
    if scale == 1:
        return base
    folder = work / f"x{scale}"
    # in a process of its own: a child forked from a parent that grew (DuckDB's buffers) would
    # report the parent's memory as its own peak RSS (Linux keeps it across fork)
    subprocess.run([sys.executable, str(HERE / "scaled_copy.py"), str(base), str(folder),
                    "--copies", str(scale)], check=True)
    return folder


def source_folder(work: Path, given: str | None) -> tuple[Path, str]:
    reference = given or os.environ.get("INSIGHTFLOW_REFERENCE_DATA")
    if reference and (Path(reference) / "OrderDetails.csv").exists():
        return Path(reference), "reference export"
    synthetic = work / "synthetic"
    subprocess.run([sys.executable, "-m", "insightflow.cli", "generate", "--out", str(synthetic)], check=True,
                   stdout=subprocess.DEVNULL)
    return synthetic, "synthetic export (generate --scale 1)"


def run_pipeline(folder: Path, lake: Path, series: Series, src: str | None) -> None:
    """One `insightflow run` on a fresh lake (``src``: the package folder to import it from)."""
    env = {**os.environ, "PYTHONPATH": src} if src else None
    cli = [sys.executable, "-m", "insightflow.cli"]
    series.timings.append(timed([*cli, "run", "--source", str(folder), "--lake", str(lake)], env))
    history = subprocess.run([*cli, "history", "--format", "json", "--lake", str(lake)],
                             capture_output=True, text=True, check=True, env=env)
    for step in json.loads(history.stdout)[-1]["steps"]:
        series.steps.setdefault(step["step"], []).append(step["seconds"])
    shutil.rmtree(lake, ignore_errors=True)  # a 100x lake holds gigabytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source")
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--baseline", help="src folder of another version, run alternately with this one")
    parser.add_argument("--equal-work-memory-limit", help="DuckDB memory_limit of the equal-work floor "
                        "(default: DuckDB's own, as the floor's; a run's is 3GB)")
    args = parser.parse_args()
    equal_work = [sys.executable, str(HERE / "equal_work_floor.py")]
    if args.equal_work_memory_limit:
        equal_work += ["--memory-limit", args.equal_work_memory_limit]
    baseline = str(Path(args.baseline).resolve()) if args.baseline else None
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        base, label = source_folder(work, args.source)
        print(f"source: {label}; {args.repeat} repetitions; {os.cpu_count()} cores\n")
        rows = []
        for scale in args.scales:
            folder = scaled_source(base, work, scale)
            floor, equal, pipeline, before = Series(), Series(), Series(), Series()
            for attempt in range(args.repeat):
                floor.timings.append(timed([sys.executable, str(HERE / "bare_duckdb.py"), str(folder), str(work / "bare")]))
                shutil.rmtree(work / "bare", ignore_errors=True)
                equal.timings.append(timed([*equal_work, str(folder), str(work / "equal")]))
                shutil.rmtree(work / "equal", ignore_errors=True)
                versions = [(pipeline, None, "run")] + ([(before, baseline, "baseline")] if baseline else [])
                for series, src, name in versions if attempt % 2 == 0 else versions[::-1]:
                    run_pipeline(folder, work / f"lake-{scale}-{name}-{attempt}", series, src)
            rows.append((scale, floor, equal, pipeline))
            print(f"scale {scale:>3}: bare DuckDB      {floor.summary()}")
            print(f"           equal-work floor {equal.summary()}")
            print(f"           insightflow run  {pipeline.summary()}   "
                  f"ratio {pipeline.best().wall / floor.best().wall:4.2f}x / floor, "
                  f"{pipeline.best().wall / equal.best().wall:4.2f}x / equal-work floor (best)")
            steps = {k: statistics.median(v) for k, v in pipeline.steps.items()}
            print(f"           steps (median, {sum(steps.values()):.2f} s): "
                  + ", ".join(f"{k} {v:.2f}" for k, v in steps.items()))
            if baseline:
                print(f"           baseline run     {before.summary()}   "
                      f"this / baseline {pipeline.median('wall') / before.median('wall'):.3f} (median wall), "
                      f"{pipeline.median('cpu') / before.median('cpu'):.3f} (median cpu)")
            if scale != 1:
                shutil.rmtree(folder, ignore_errors=True)
        print("\n| scale | floor | equal-work floor | `insightflow run` | run / floor | run / equal-work "
              "| CPU floor / equal-work / run | peak RSS floor / equal-work / run |")
        print("|---|---|---|---|---|---|---|---|")
        for scale, *series in rows:
            floor_t, equal_t, run = (s.best() for s in series)
            cpu = " / ".join(f"{s.median('cpu'):.1f}" for s in series)
            rss = " / ".join(f"{max(t.rss_mb for t in s.timings):.0f}" for s in series)
            print(f"| {scale}x | {floor_t.wall:.2f} s | {equal_t.wall:.2f} s | {run.wall:.2f} s "
                  f"| {run.wall / floor_t.wall:.2f}x | {run.wall / equal_t.wall:.2f}x | {cpu} s | {rss} MB |")


if __name__ == "__main__":
    main()
