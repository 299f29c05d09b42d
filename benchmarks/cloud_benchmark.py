"""The same run on the local lake and on a loopback cloud lake (S3 on SeaweedFS, catalog on PostgreSQL).

    python benchmarks/cloud_benchmark.py [--source DIR] [--scales 1 10] [--repeat 2]

Starts SeaweedFS (``weed mini``) and PostgreSQL on 127.0.0.1, as the tests do (tests/servers.py),
then times `insightflow run` on a fresh lake, alternately local and cloud, each a fresh process;
then `insightflow kpis` (a reader: resolving the tables and reading them from the store). Prints
wall seconds (best and median), peak RSS and the ratio cloud / local. The source is the reference
export ($INSIGHTFLOW_REFERENCE_DATA) when given, else a synthetic scale-1 export; scale N is an
N-times copy with shifted ids (benchmarks/scaled_copy.py).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from pipeline_benchmark import Timing, scaled_source, source_folder, timed  # noqa: E402

from tests.servers import ACCESS_KEY, BUCKET, REGION, SECRET_KEY, start_postgres, start_seaweedfs  # noqa: E402

CLI = [sys.executable, "-m", "insightflow.cli"]


def summary(timings: list[Timing]) -> str:
    best = min(t.wall for t in timings)
    return f"best {best:6.2f} s, median {statistics.median(t.wall for t in timings):6.2f} s, " \
           f"{max(t.rss_mb for t in timings):5.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source")
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        base, label = source_folder(work, args.source)
        seaweedfs, postgres = start_seaweedfs(work / "seaweedfs"), start_postgres()
        try:
            print(f"source: {label}; {args.repeat} repetitions; SeaweedFS and PostgreSQL on loopback\n")
            rows = []
            for scale in args.scales:
                folder = scaled_source(base, work, scale)
                runs: dict[str, list[Timing]] = {"local": [], "cloud": []}
                reads: dict[str, list[Timing]] = {"local": [], "cloud": []}
                for attempt in range(args.repeat):
                    for kind in ("local", "cloud") if attempt % 2 == 0 else ("cloud", "local"):
                        env = dict(os.environ)
                        if kind == "cloud":
                            env |= {"AWS_ENDPOINT_URL": seaweedfs.s3, "AWS_REGION": REGION,
                                    "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                                    "INSIGHTFLOW_WAREHOUSE": f"s3://{BUCKET}/bench-{uuid.uuid4().hex[:8]}",
                                    "INSIGHTFLOW_CATALOG_URI": postgres.url(postgres.create_database())}
                        lake = work / f"lake-{scale}-{kind}-{attempt}"
                        runs[kind].append(timed([*CLI, "run", "--source", str(folder), "--lake", str(lake)], env))
                        reads[kind].append(timed([*CLI, "kpis", "--lake", str(lake)], env))
                rows.append((scale, runs, reads))
                print(f"scale {scale:>3}: run   local {summary(runs['local'])} | cloud {summary(runs['cloud'])}")
                print(f"           kpis  local {summary(reads['local'])} | cloud {summary(reads['cloud'])}")
            print("\n| scale | `insightflow run` local | on S3 + PostgreSQL | ratio | `insightflow kpis` local | "
                  "on S3 + PostgreSQL | ratio |")
            print("|---|---|---|---|---|---|---|")
            for scale, runs, reads in rows:
                local, cloud = min(t.wall for t in runs["local"]), min(t.wall for t in runs["cloud"])
                read_local, read_cloud = min(t.wall for t in reads["local"]), min(t.wall for t in reads["cloud"])
                print(f"| {scale}x | {local:.2f} s | {cloud:.2f} s | {cloud / local:.2f}x | {read_local:.2f} s | "
                      f"{read_cloud:.2f} s | {read_cloud / read_local:.2f}x |")
        finally:
            seaweedfs.stop()
            postgres.stop()


if __name__ == "__main__":
    main()
