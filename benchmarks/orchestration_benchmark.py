"""Overhead of the orchestrated run: the Dagster job vs the plain ``Lakehouse.run`` call.

Both run in one process on the same source folder, alternately, each into a fresh lake, after
the imports (measured apart, in fresh processes, below the table). The orchestrated run's lake has
its Dagster instance already (as a lake has after its first run); creating one is timed apart.
Default source: the reference export ($INSIGHTFLOW_REFERENCE_DATA).

    python benchmarks/orchestration_benchmark.py [SOURCE] [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def import_seconds(module: str) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    return float(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", default=os.environ.get("INSIGHTFLOW_REFERENCE_DATA"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not args.source:
        parser.error("give a SOURCE folder or set INSIGHTFLOW_REFERENCE_DATA")
    from insightflow.lakehouse import Lakehouse
    from insightflow.orchestration import lake_instance, run_job

    times: dict[str, list[float]] = {"plain Lakehouse.run": [], "orchestrated run_job": []}
    creations: list[float] = []
    work = Path(tempfile.mkdtemp(prefix="insightflow-orch-"))
    try:
        for i in range(args.repeat + 1):  # the first round warms caches and is not counted
            for name in times:
                lake = Lakehouse(work / f"{i}-{name.split()[0]}")
                if name.startswith("orchestrated"):
                    started = time.perf_counter()
                    lake_instance(lake.layout)
                    creations.append(time.perf_counter() - started)
                started = time.perf_counter()
                if name.startswith("plain"):
                    lake.run(args.source)
                else:
                    run_job(lake, args.source)
                if i:
                    times[name].append(time.perf_counter() - started)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    plain, orchestrated = (statistics.median(t) for t in times.values())
    print(f"{'':24} {'median s':>9} {'runs':>30}")
    for name, values in times.items():
        print(f"{name:24} {statistics.median(values):9.2f} {', '.join(f'{v:.2f}' for v in values):>30}")
    print(f"overhead of the orchestrator: {orchestrated - plain:+.2f} s ({orchestrated / plain:.2f}x)")
    print(f"creating a lake's Dagster instance (once per lake): median {statistics.median(creations[1:]):.2f} s")
    print(f"imports (fresh process): insightflow.lakehouse {import_seconds('insightflow.lakehouse'):.2f} s, "
          f"insightflow.orchestration {import_seconds('insightflow.orchestration'):.2f} s")


if __name__ == "__main__":
    main()
