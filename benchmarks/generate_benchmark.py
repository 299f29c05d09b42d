"""Time the synthetic generator at scale 10 and 100: wall seconds and peak RSS of each run.

Each scale runs in a fresh process (so that peak memory is that run's alone), measured by a small
parent through ``resource.getrusage(RUSAGE_CHILDREN)``. Targets: scale 10 < 15 s, scale 100 < 150 s,
peak RSS < 1.5 GB.

    python benchmarks/generate_benchmark.py [--scales 10 100] [--seed 42] [--dirty 0]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GENERATE = (
    "import sys; from pathlib import Path; from insightflow.generate import generate; "
    "r = generate(Path(sys.argv[1]), scale=float(sys.argv[2]), seed=int(sys.argv[3]), "
    "dirty=float(sys.argv[4])); "
    "print(sum(r.rows.values()), sum(p.stat().st_size for p in r.files.values()))"
)


def measure(scale: float, seed: int, dirty: float) -> dict:
    """Generate once in a child process; wall time, peak RSS and output size."""
    with tempfile.TemporaryDirectory(prefix="insightflow-generate-") as folder:
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", GENERATE, folder, str(scale), str(seed), str(dirty)],
            check=True,
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - started
    rows, size = (int(v) for v in done.stdout.split())
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    return {
        "scale": scale,
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(peak_kb / 1024),
        "rows": rows,
        "bytes": size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[10, 100])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--dirty", type=float, default=0.0)
    parser.add_argument("--measure", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:  # the per-scale parent: one child, so its peak is that run's
        print(json.dumps(measure(args.measure, args.seed, args.dirty)))
        return
    results = []
    for scale in args.scales:
        out = subprocess.run(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--measure",
                str(scale),
                "--seed",
                str(args.seed),
                "--dirty",
                str(args.dirty),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        results.append(json.loads(out.stdout))
    print(f"{'scale':>7} {'seconds':>9} {'peak RSS MB':>12} {'rows':>12} {'MB written':>11}")
    for r in results:
        print(
            f"{r['scale']:>7g} {r['seconds']:>9.2f} {r['peak_rss_mb']:>12,} {r['rows']:>12,} "
            f"{r['bytes'] / 1e6:>11,.0f}"
        )


if __name__ == "__main__":
    main()
