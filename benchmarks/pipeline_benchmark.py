"""Time the whole `insightflow run` against the bare-DuckDB floor, side by side, in one run.

    python benchmarks/pipeline_benchmark.py [--source DIR] [--scales 1 10] [--repeat 3]

Each measurement is a fresh process (imports included), so the figures are what a user waits
for. The source is the reference export ($INSIGHTFLOW_REFERENCE_DATA) when given, else a
synthetic scale-1 export; scale N is an N-times copy with ids shifted per copy
(benchmarks/scaled_copy.py). Prints wall seconds (best of --repeat), peak RSS, per-step times of
the pipeline and the ratio pipeline / floor.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from scaled_copy import scaled_copy  # noqa: E402


def timed(command: list[str]) -> tuple[float, float]:
    """Run ``command``; (wall seconds, peak RSS in MB of that process)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"{' '.join(command)} failed: {process.stderr.read().decode()[-2000:]}")
    return seconds, usage.ru_maxrss / 1024


def source_folder(work: Path, given: str | None) -> tuple[Path, str]:
    reference = given or os.environ.get("INSIGHTFLOW_REFERENCE_DATA")
    if reference and (Path(reference) / "OrderDetails.csv").exists():
        return Path(reference), "reference export"
    synthetic = work / "synthetic"
    subprocess.run([sys.executable, "-m", "insightflow.cli", "generate", "--out", str(synthetic)], check=True,
                   stdout=subprocess.DEVNULL)
    return synthetic, "synthetic export (generate --scale 1)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source")
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        base, label = source_folder(work, args.source)
        print(f"source: {label}; best of {args.repeat}; {os.cpu_count()} cores\n")
        rows = []
        for scale in args.scales:
            folder = base if scale == 1 else work / f"x{scale}"
            if scale != 1:
                scaled_copy(base, folder, scale)
            floor, pipeline, steps = [], [], {}
            for attempt in range(args.repeat):
                floor.append(timed([sys.executable, str(HERE / "bare_duckdb.py"), str(folder), str(work / "bare")]))
                lake = work / f"lake-{scale}-{attempt}"
                pipeline.append(timed([sys.executable, "-m", "insightflow.cli", "run", "--source", str(folder),
                                       "--lake", str(lake)]))
                history = subprocess.run(
                    [sys.executable, "-m", "insightflow.cli", "history", "--format", "json", "--lake", str(lake)],
                    capture_output=True, text=True, check=True,
                )
                for step in json.loads(history.stdout)[-1]["steps"]:
                    steps.setdefault(step["step"], []).append(step["seconds"])
            best_floor, best_run = min(floor), min(pipeline)
            rows.append((scale, best_floor, best_run, steps))
            print(f"scale {scale:>3}: bare DuckDB {best_floor[0]:6.2f} s ({best_floor[1]:5.0f} MB)   "
                  f"insightflow run {best_run[0]:6.2f} s ({best_run[1]:5.0f} MB)   "
                  f"ratio {best_run[0] / best_floor[0]:4.2f}x")
            print("           steps: " + ", ".join(f"{k} {min(v):.2f}" for k, v in steps.items()))
        print("\n| scale | bare DuckDB floor | insightflow run (fresh process) | ratio | peak RSS (run) |")
        print("|---|---|---|---|---|")
        for scale, (floor_s, _), (run_s, run_mb), _ in rows:
            print(f"| {scale}x | {floor_s:.2f} s | {run_s:.2f} s | {run_s / floor_s:.2f}x | {run_mb:.0f} MB |")


if __name__ == "__main__":
    main()
