"""Query-layer benchmark: catalogue KPIs warm (p50/p95) and the API under 50 concurrent clients.

    python benchmarks/query_benchmark.py [--source DIR] [--scales 1 10] [--clients 50] [--seconds 30]

Builds a lake per scale in a temporary folder (scale N = ``scaled_copy.py`` with N copies of the
source; the source defaults to $INSIGHTFLOW_REFERENCE_DATA, else a synthetic scale-1 export), times
every KPI of the catalogue through the query service (a fresh reader per call, as the API does),
then starts ``insightflow serve`` and has ``--clients`` threads call ``GET /kpis`` for
``--seconds`` on loopback.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from insightflow import Lakehouse
from insightflow.api import TokenStore, tokens_path
from insightflow.query import CATALOGUE, run_kpi

sys.path.insert(0, str(Path(__file__).parent))
from scaled_copy import scaled_copy  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def build_lake(work: Path, source: Path, scale: int) -> Lakehouse:
    folder = source if scale == 1 else work / f"source-x{scale}"
    if scale != 1:
        scaled_copy(source, folder, scale)
    lake = Lakehouse(work / f"lake-x{scale}")
    started = time.perf_counter()
    lake.run(folder)
    print(f"scale {scale}: lake built in {time.perf_counter() - started:.1f} s", flush=True)
    return lake


def time_kpis(lake: Lakehouse, repeat: int) -> dict[str, tuple[float, ...]]:
    """Per KPI: p50 and p95 of the query itself (fresh reader, no answer reuse), and p95 of
    ``Lakehouse.kpi`` (answers reused until the catalog changes, as the API serves them)."""
    figures = {}
    for name in CATALOGUE:
        for _ in range(2):  # warm: snapshot resolution, Arrow cache, idle sandbox databases
            run_kpi(lake.reader(), name)
            lake.kpi(name)
        queried, served = [], []
        for _ in range(repeat):
            started = time.perf_counter()
            run_kpi(lake.reader(), name)
            queried.append(time.perf_counter() - started)
            started = time.perf_counter()
            lake.kpi(name)
            served.append(time.perf_counter() - started)
        figures[name] = (statistics.median(queried) * 1000, percentile(queried, 0.95) * 1000,
                         percentile(served, 0.95) * 1000)
    return figures


def load_test(lake: Lakehouse, clients: int, seconds: float) -> dict:
    token = TokenStore(tokens_path(lake.layout)).add(f"bench-{os.getpid()}", "viewer")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "insightflow.cli", "serve", "--port", str(port), "--lake", str(lake.layout.root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        headers = {"Authorization": f"Bearer {token}"}
        httpx.get(f"{base}/kpis", headers=headers, timeout=30)  # warm
        latencies: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()
        deadline = time.perf_counter() + seconds

        def client() -> None:
            with httpx.Client(base_url=base, headers=headers, timeout=30) as session:
                while time.perf_counter() < deadline:
                    started = time.perf_counter()
                    try:
                        response = session.get("/kpis")
                        ok = response.status_code == 200
                    except httpx.HTTPError as error:
                        ok, response = False, error
                    with lock:
                        latencies.append(time.perf_counter() - started)
                        if not ok:
                            errors.append(str(response))

        threads = [threading.Thread(target=client) for _ in range(clients)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=10)
    return {"requests": len(latencies), "errors": len(errors), "rps": len(latencies) / elapsed,
            "p50_ms": percentile(latencies, 0.5) * 1000, "p95_ms": percentile(latencies, 0.95) * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source")
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="insightflow-query-bench-") as tmp:
        work = Path(tmp)
        source = Path(args.source or os.environ.get("INSIGHTFLOW_REFERENCE_DATA") or "")
        if not (source / "OrderDetails.csv").exists():
            from insightflow.generate import generate

            source = work / "synthetic"
            generate(source, scale=1.0, seed=42)
        lakes = {}
        for scale in args.scales:
            lakes[scale] = lake = build_lake(work, source, scale)
            print(f"\n| KPI (scale {scale}, warm, {args.repeat} calls) | query p50 ms | query p95 ms "
                  "| reused answer p95 ms |\n|---|---|---|---|")
            for name, (p50, p95, served) in time_kpis(lake, args.repeat).items():
                print(f"| {name} | {p50:.1f} | {p95:.1f} | {served:.2f} |", flush=True)
        load = load_test(lakes[args.scales[0]], args.clients, args.seconds)
        print(f"\nGET /kpis, {args.clients} clients, {args.seconds:g} s, scale {args.scales[0]}: "
              f"{load['requests']} requests, {load['errors']} errors, {load['rps']:.0f} req/s, "
              f"p50 {load['p50_ms']:.0f} ms, p95 {load['p95_ms']:.0f} ms")


if __name__ == "__main__":
    main()
