"""Serving the star schema to BI tools: a full sync, and an incremental one after a daily export.

    python benchmarks/bi_benchmark.py [--scales 1 10] [--repeat 2]

Starts PostgreSQL on 127.0.0.1 as the tests do (tests/servers.py). Per scale: writes two daily
exports (`insightflow generate --days 2`: day 2 has ~0.5 % new orders and ~1 % of the lines
changed), runs day 1 into a lake and times `insightflow bi sync` into an empty database (full);
then runs day 2 (without a BI database, so the run is not timed with it) and times `insightflow
bi sync` from the day-1 database (incremental; each repetition starts from a copy of that
database, made with CREATE DATABASE … TEMPLATE). Each sync is a fresh process: wall seconds
(best of ``--repeat``), the sync's own seconds as the database recorded them, rows sent, peak RSS.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from pipeline_benchmark import Timing, timed  # noqa: E402

from tests.servers import PostgreSQL, start_postgres  # noqa: E402

CLI = [sys.executable, "-m", "insightflow.cli"]


def sync(postgres: PostgreSQL, database: str, lake: Path, *args: str) -> tuple[Timing, dict]:
    env = {**os.environ, "INSIGHTFLOW_BI_URL": postgres.url(database, driver="postgresql")}
    timing = timed([*CLI, "bi", "sync", *args, "--lake", str(lake)], env)
    row = postgres.psql("SELECT mode, rows_sent, rows_deleted, seconds FROM insightflow_bi.syncs "
                        "ORDER BY finished_at DESC LIMIT 1", database).strip().split("|")
    return timing, {"mode": row[0], "rows": int(row[1]), "deleted": int(row[2]), "seconds": float(row[3])}


def copy_of(postgres: PostgreSQL, template: str) -> str:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    postgres.psql(f"CREATE DATABASE {name} TEMPLATE {template}")
    return name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[1, 10])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    postgres = start_postgres()
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            print(f"PostgreSQL 15 on loopback; {args.repeat} repetitions; each sync a fresh process\n")
            for scale in args.scales:
                days = work / f"days-{scale:g}"
                subprocess.run([*CLI, "generate", "--out", str(days), "--days", "2", "--scale", str(scale)],
                               check=True, stdout=subprocess.DEVNULL)
                lake = work / f"lake-{scale:g}"
                subprocess.run([*CLI, "run", "--source", str(days / "day-01"), "--lake", str(lake)],
                               check=True, capture_output=True)
                full = []
                for _ in range(args.repeat):
                    database = postgres.create_database()
                    full.append(sync(postgres, database, lake))
                served_day_1 = database
                subprocess.run([*CLI, "run", "--source", str(days / "day-02"), "--lake", str(lake)],
                               check=True, capture_output=True)
                incremental = [sync(postgres, copy_of(postgres, served_day_1), lake) for _ in range(args.repeat)]
                for name, results in (("full", full), ("incremental", incremental)):
                    best = min(results, key=lambda r: r[0].wall)
                    assert all(r[1]["mode"] == name for r in results), results
                    print(f"scale {scale:>4g}: {name:<11} best {best[0].wall:6.2f} s wall, sync {best[1]['seconds']:6.2f} s, "
                          f"{best[1]['rows']:>9,} rows sent, {best[0].rss_mb:5.0f} MB", flush=True)
                rows.append((scale, min(full, key=lambda r: r[0].wall), min(incremental, key=lambda r: r[0].wall)))
    finally:
        postgres.stop()
    print("\n| scale | full sync (wall / in the sync) | rows sent | incremental after a daily export | rows sent "
          "| incremental / full |")
    print("|---|---|---|---|---|---|")
    for scale, (full_t, full_r), (inc_t, inc_r) in rows:
        print(f"| {scale:g}x | {full_t.wall:.2f} s / {full_r['seconds']:.2f} s | {full_r['rows']:,} | "
              f"{inc_t.wall:.2f} s / {inc_r['seconds']:.2f} s | {inc_r['rows']:,} | "
              f"{inc_r['seconds'] / full_r['seconds']:.2f}x |")


if __name__ == "__main__":
    main()
