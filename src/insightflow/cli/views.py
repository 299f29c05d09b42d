"""The listings more than one command shows: a run's steps, the KPI summary, the BI sync's outcome."""

from __future__ import annotations

import sys

from insightflow.cli.render import OUT, Column, Listing
from insightflow.console import visible
from insightflow.lake import RunRecord


def run_steps(runs: list[RunRecord]) -> Listing:
    """Per step of each run: time, rows in and out, quarantined rows; bytes written, their
    compression and the attempts with ``--wide``."""
    records = [{"run_id": run.run_id, "first": i == 0, "status": step.get("status", run.status), **step}
               for run in runs for i, step in enumerate(run.steps)]
    columns = [
        # a run's id on its first step only, in a table (JSON and CSV hold it on every step)
        Column("run_id", header="run", cell=lambda s: s["run_id"] if s["first"] else "", whole=True),
        Column("step", whole=True),
        Column("status", whole=True),
        Column("seconds", text=lambda v: f"{v:.2f}", right=True),
        Column("rows_in", header="rows in", value=lambda s: s.get("rows_in"), right=True),
        Column("rows", header="rows out", right=True, value=lambda s: s.get("rows")),
        Column("quarantined", value=lambda s: s.get("quarantined"), right=True),
        Column("bytes_written", header="written", value=lambda s: s.get("bytes_written"),
               text=lambda v: f"{v / 1e6:,.2f} MB" if v else "", right=True, wide=True),
        Column("compression_ratio", header="ratio", value=lambda s: s.get("compression_ratio"),
               text=lambda v: f"{v:.1f}x" if v else "", right=True, wide=True),
        Column("attempts", value=lambda s: s.get("attempts", 1), right=True, wide=True),
    ]
    return Listing(columns, records)


def kpi_summary(figures: dict) -> Listing:
    """The KPI summary as label and value rows: a table shows the value formatted, CSV as a number
    (JSON: the figures as they are)."""
    money, count = (lambda v: f"${v:,.2f}"), (lambda v: f"{v:,}")
    rows = [
        ("Products ordered", figures["products_ordered"], count),
        ("Gross sales", figures["gross_sales"], money),
        ("Discount", figures["discount"], money),
        ("Net sales", figures["net_sales"], money),
        ("Net profit", figures["net_profit"], money),
        ("Orders placed", figures["orders_placed"], count),
        ("Avg shipping days", figures["avg_shipping_days"], lambda v: f"{v:.2f}"),
        ("Late deliveries", figures["late_deliveries"], count),
        *((f"On-time rate, {mode}", rate, lambda v: f"{v:.1%}") for mode, rate in figures["on_time_rate_by_mode"].items()),
    ]
    return Listing([Column("kpi", header="KPI", value=lambda r: r[0], whole=True),
                    Column("value", value=lambda r: r[1], cell=lambda r: r[2](r[1]), right=True)],
                   rows, data=figures)


def warn_bi_sync(record: RunRecord) -> None:
    """What serving a published run to the BI database did (nothing when none is set)."""
    if record.bi_sync and record.bi_sync.startswith("failed"):
        sys.stderr.write(f"insightflow: warning: published, BI sync failed: {visible(record.bi_sync.removeprefix('failed: '))} "
                         "(`insightflow bi sync` catches up)\n")
    elif record.bi_sync:
        OUT.print(f"BI database {record.bi_sync}")
