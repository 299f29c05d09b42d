"""A lake fed one full export a day: does a run cost what the new data costs, day after day?

    python benchmarks/daily_benchmark.py [--days 30] [--scale 1] [--seed 42]

Writes ``--days`` daily full exports with ``insightflow generate --days`` (each day about 0.5 % new
orders and 1 % of the order lines changed), then runs ``insightflow run`` on each in turn — each a
fresh process on the same lake — and prints every run's wall seconds, peak RSS and the rows each
model evaluated. Then it checks what the incremental runs built: a ``--full-refresh`` of a copy of
the lake must give the same tables, and a fresh lake that ingested only the last day's export the
same KPIs. Prints the ratio of the last run to the second (the first builds everything).

One run of each is at the mercy of the machine's load at that minute, so the lake is kept as it was
before run 2 and before the last run, and both runs are timed again ``--repeat`` times, in turn
(2, last, 2, last …), each on a fresh copy of the lake it had (already pointed at its new folder,
and written to disk, before the clock starts): the ratio of those medians is the one to quote.
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
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from pipeline_benchmark import timed  # noqa: E402

CLI = [sys.executable, "-m", "insightflow.cli"]
MODELS = ("curated.customer_dim", "curated.order_dim", "curated.delivery_dim", "marts.fact_sales",
          "marts.order_summary")


def last_run(lake: Path) -> dict:
    history = subprocess.run([*CLI, "history", "--last", "1", "--format", "json", "--lake", str(lake)],
                             capture_output=True, text=True, check=True)
    return json.loads(history.stdout)[-1]


def tables_equal(left: Path, right: Path) -> list[str]:
    """The curated, mart and quarantine tables whose published rows differ between two lakes."""
    from insightflow import Lakehouse
    from tests.transform.test_incremental import published_rows

    a, b = published_rows(Lakehouse(left)), published_rows(Lakehouse(right))
    return [name for name in sorted(a.keys() | b.keys()) if a.get(name) != b.get(name)]


def kpis(lake: Path) -> dict:
    out = subprocess.run([*CLI, "kpis", "--format", "json", "--lake", str(lake)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=3, help="re-runs of run 2 and the last run, in turn")
    args = parser.parse_args()
    if args.days < 3:
        parser.error("--days must be at least 3 (run 2 and the last run are compared)")
    sys.path.insert(0, str(HERE.parent))  # the tests' helpers
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        subprocess.run([*CLI, "generate", "--out", str(work / "days"), "--days", str(args.days),
                        "--scale", str(args.scale), "--seed", str(args.seed)], check=True, stdout=subprocess.DEVNULL)
        days = sorted((work / "days").iterdir())
        lake = work / "lake"
        print(f"{args.days} daily full exports at scale {args.scale}; one `insightflow run` a day, each a fresh process\n")
        print("| day | seconds | peak RSS | order lines | rows evaluated: " + ", ".join(m.split(".")[1] for m in MODELS) + " |")
        print("|---|---|---|---|---|")
        seconds = []
        kept = {1: work / "before-2", len(days) - 1: work / "before-last"}  # days already run -> copy
        for index, day in enumerate(days):
            if index in kept:
                shutil.copytree(lake, kept[index])
            timing = timed([*CLI, "run", "--source", str(day), "--lake", str(lake)])
            seconds.append(timing.wall)
            steps = {s["step"]: s for s in last_run(lake)["steps"]}
            evaluated = ", ".join(f"{steps[m]['rows_in']:,}" for m in MODELS)
            print(f"| {day.name[4:]} | {timing.wall:.2f} s | {timing.rss_mb:.0f} MB | "
                  f"{steps['curated.order_dim']['rows']:,} | {evaluated} |", flush=True)
        again: dict[int, list[float]] = {index: [] for index in kept}
        for _ in range(args.repeat):
            for index, before in kept.items():
                shutil.copytree(before, work / "again")
                # A copied lake's tables are pointed at its folder by the first command that opens
                # it (710 metadata files for the last run's lake): done here, not in the timed run.
                subprocess.run([*CLI, "tables", "--lake", str(work / "again")], check=True, capture_output=True)
                os.sync()  # the copy's writes (hundreds of MB for the last run's lake) not during the run
                again[index].append(timed([*CLI, "run", "--source", str(days[index]), "--lake", str(work / "again")]).wall)
                shutil.rmtree(work / "again")
        shutil.copytree(lake, work / "refreshed")
        refresh = timed([*CLI, "run", "--full-refresh", "--source", str(days[-1]), "--lake", str(work / "refreshed")])
        fresh = timed([*CLI, "run", "--source", str(days[-1]), "--lake", str(work / "fresh")])
        differing = tables_equal(lake, work / "refreshed")
        print(f"\nrun {len(days)} / run 2: {seconds[-1] / seconds[1]:.2f}x "
              f"(run 2 {seconds[1]:.2f} s, run {len(days)} {seconds[-1]:.2f} s; median of runs 2-{len(days)} "
              f"{sorted(seconds[1:])[len(seconds[1:]) // 2]:.2f} s)")
        print(f"--full-refresh over the {len(days)} loads: {refresh.wall:.2f} s; tables equal to the incremental "
              f"runs': {'yes' if not differing else 'NO: ' + ', '.join(differing)}")
        second, last = (statistics.median(again[index]) for index in kept)
        print(f"run 2 and run {len(days)} again, {args.repeat} times each in turn on copies of the lake they had: "
              f"{last / second:.2f}x (median {second:.2f} s and {last:.2f} s; "
              f"{', '.join(f'{a / b:.2f}' for a, b in zip(again[len(days) - 1], again[1], strict=True))} pair by pair)")
        same = kpis(lake) == kpis(work / "fresh")
        print(f"fresh lake with only day {len(days)}'s export: {fresh.wall:.2f} s; same KPIs: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
