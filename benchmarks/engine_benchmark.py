"""DuckDB and Spark side by side: the same `insightflow run` on the same data, at scale 1 and 10.

    python benchmarks/engine_benchmark.py [--source DIR] [--scales 1 10] [--repeat 1]
                                          [--spark-master local[2]]

Each run is a fresh process and a fresh lake (Spark's JVM start included: that is what a user
waits for). The source is the reference export ($INSIGHTFLOW_REFERENCE_DATA) when given, else a
synthetic scale-1 export; scale N is an N-times copy with ids shifted per copy
(benchmarks/scaled_copy.py). Prints, per scale and engine, the whole run and the model steps
alone (build + checks, from the run's history), best of --repeat, and the ratio Spark / DuckDB.
Crawl, ingest and publish are the same code for both engines.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from pipeline_benchmark import source_folder, timed  # noqa: E402
from scaled_copy import scaled_copy  # noqa: E402

_NOT_MODELS = {"crawl", "ingest", "publish"}


def run_engine(engine: str, folder: Path, lake: Path, master: str | None) -> tuple[float, float]:
    """(wall seconds, seconds in the model steps) of one run."""
    command = [sys.executable, "-m", "insightflow.cli", "run", "--source", str(folder), "--lake", str(lake),
               "--engine", engine]
    if engine == "spark" and master:
        command += ["--spark-master", master]
    seconds, _ = timed(command)  # peak RSS would miss the JVM (a child of the process)
    history = subprocess.run(
        [sys.executable, "-m", "insightflow.cli", "history", "--format", "json", "--lake", str(lake)],
        capture_output=True, text=True, check=True,
    )
    steps = json.loads(history.stdout)[-1]["steps"]
    return seconds, sum(s["seconds"] for s in steps if s["step"] not in _NOT_MODELS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source")
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--spark-master", default=None, help="default: the engine's local[2]")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        base, label = source_folder(work, args.source)
        print(f"source: {label}; best of {args.repeat}; {os.cpu_count()} cores\n")
        print(f"{'scale':>5}  {'engine':<7} {'run (s)':>8} {'models (s)':>11}")
        results = []
        for scale in args.scales:
            folder = base if scale == 1 else work / f"x{scale}"
            if scale != 1:
                scaled_copy(base, folder, scale)
            best = {}
            for engine in ("duckdb", "spark"):
                runs = [run_engine(engine, folder, work / f"lake-{engine}-{scale}-{i}", args.spark_master)
                        for i in range(args.repeat)]
                best[engine] = min(runs)
                seconds, models = best[engine]
                print(f"{scale:>4}x  {engine:<7} {seconds:8.2f} {models:11.2f}", flush=True)
            results.append((scale, best))
        print("\nratio Spark / DuckDB (whole run, model steps):")
        for scale, best in results:
            run_ratio = best["spark"][0] / best["duckdb"][0]
            model_ratio = best["spark"][1] / best["duckdb"][1]
            print(f"{scale:>4}x  {run_ratio:5.2f}x  {model_ratio:5.2f}x")


if __name__ == "__main__":
    main()
