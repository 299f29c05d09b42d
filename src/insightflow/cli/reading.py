"""Commands that read the lake: kpis, sql, tables, history, quality, quarantine, snapshots,
audit, metrics — and rollback, which republishes an old snapshot."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from insightflow.cli.base import FormatOption, WideOption, command, lakehouse
from insightflow.cli.render import OUT, Column, Format, Listing, emit, rows_listing, to_csv
from insightflow.cli.views import kpi_summary, run_steps, warn_bi_sync
from insightflow.errors import UsageError

AsOfOption = Annotated[str | None, typer.Option("--as-of", help="Run id, snapshot id or ISO time.")]
TableArgument = Annotated[str, typer.Argument(metavar="TABLE", help="A table, e.g. marts.fact_sales or fact_sales.")]


@command()
def kpis(
    name: Annotated[str | None, typer.Argument(metavar="[NAME]", help="A KPI of the catalogue (default: the summary); `--list` names them.")] = None,
    format: FormatOption = Format.table,
    as_of: AsOfOption = None,
    year: Annotated[int | None, typer.Option("--year", help="Only orders shipped in this year.")] = None,
    quarter: Annotated[int | None, typer.Option("--quarter", help="Only orders shipped in this quarter (1-4).")] = None,
    shipping_mode: Annotated[str | None, typer.Option("--shipping-mode", help='e.g. "Standard Class".')] = None,
    category: Annotated[str | None, typer.Option("--category", help="Only lines of this product category.")] = None,
    segment: Annotated[str | None, typer.Option("--segment", help="Only customers of this segment.")] = None,
    top: Annotated[int, typer.Option("--top", help="Rows of top_products.")] = 10,
    list_names: Annotated[bool, typer.Option("--list", help="List the KPIs of the catalogue.")] = False,
) -> None:
    """The KPI summary of the published star schema, or one KPI of the catalogue."""
    from insightflow.query import CATALOGUE, KpiFilters

    if list_names:
        emit(Listing([Column("name", header="KPI", whole=True), Column("description", header="what it shows")],
                     [vars(entry) for entry in CATALOGUE.values()]), format)
        return
    filters = KpiFilters(year, quarter, shipping_mode, category, segment)
    lake = lakehouse()
    if name is None or name == "summary":
        emit(kpi_summary(lake.kpis(as_of, filters)), format)
        return
    result = lake.kpi(name, filters, as_of, top=top)
    emit(rows_listing(result.columns, result.rows), format)


class SqlFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    parquet = "parquet"


@command()
def sql(
    statement: Annotated[str, typer.Argument(help='One read-only statement, e.g. "SELECT * FROM marts.fact_sales LIMIT 5".')],
    format: Annotated[SqlFormat, typer.Option("--format", help="Output format (parquet needs --out).")] = SqlFormat.table,
    as_of: AsOfOption = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the result to this file instead of stdout.")] = None,
    max_rows: Annotated[int | None, typer.Option(
        "--max-rows", show_default=False,
        help="Return at most N rows, the rest cut with a warning; 0: no limit [default: 10000, all rows with --out].")] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Stop the query after this many seconds.")] = 30.0,
) -> None:
    """Query the lake's tables with one sandboxed read-only statement (tables as schema.table)."""
    from insightflow.query import Limits

    if format is SqlFormat.parquet and out is None:
        raise UsageError("--format parquet writes a file: add --out FILE")
    if max_rows is not None and max_rows < 0:
        raise UsageError(f"--max-rows must be 0 (no limit) or more, not {max_rows}")
    unlimited = max_rows == 0 or (max_rows is None and out is not None)
    # A file gets every row, up to 4 GiB of data (said if cut); the terminal 10,000 rows, 64 MiB.
    limits = Limits(max_rows=10**12 if unlimited else (max_rows or 10_000), timeout_seconds=max(0.1, timeout),
                    max_bytes=4 * 2**30 if out is not None or max_rows == 0 else Limits().max_bytes)
    result = lakehouse().query(statement, as_of, limits=limits)
    columns, rows = result.columns, result.rows
    if format is SqlFormat.parquet:
        import pyarrow.parquet as pq

        pq.write_table(result.arrow, out, compression="zstd")
        OUT.print(f"{len(rows):,} rows written to {out}")
    elif format is SqlFormat.json:
        _write(out, json.dumps([dict(zip(columns, r, strict=True)) for r in rows], indent=2, default=str) + "\n")
    elif format is SqlFormat.csv:
        _write(out, to_csv(columns, rows))
    else:
        emit(rows_listing(columns, rows), Format.table)
    if result.truncated:
        sys.stderr.write(f"insightflow: warning: result cut to {len(rows):,} rows (--max-rows, or the answer's "
                         f"bound of {limits.max_bytes // 2**20:,} MiB)\n")


def _write(out: Path | None, text: str) -> None:
    if out is None:
        sys.stdout.write(text)
    else:
        Path(out).write_text(text, encoding="utf-8")


@command()
def tables(format: FormatOption = Format.table, wide: WideOption = False) -> None:
    """Every table: rows, snapshots, files and size (the current snapshot id with --wide)."""
    lake = lakehouse()
    infos = lake.tables()
    columns = [
        Column("name", header="table", whole=True), Column("rows", right=True),
        Column("snapshot_id", header="snapshot", text=lambda v: str(v or ""), wide=True, whole=True),
        Column("snapshots", right=True), Column("files", right=True),
        Column("bytes", header="size", text=lambda v: f"{v / 1e6:,.2f} MB", right=True),
    ]
    ratio = lake.raw_compression(infos)
    notes = [f"source CSVs {ratio.csv_bytes / 1e6:,.2f} MB -> raw tables {ratio.parquet_bytes / 1e6:,.2f} MB of "
             f"Parquet (compression ratio {ratio.ratio:.1f}x)"] if ratio else []
    emit(Listing(columns, [vars(info) for info in infos], notes), format, wide=wide)


@command()
def history(
    last: Annotated[int, typer.Option("--last", help="Show the last N runs.")] = 10,
    format: FormatOption = Format.table,
    wide: WideOption = False,
) -> None:
    """The recorded runs, newest last, then each step of them: time, rows, bytes written."""
    lake = lakehouse()
    lake.require_lake()
    runs = lake.history()[-last:] if last > 0 else []
    if format is Format.csv:  # one row per step, the run's id on each
        emit(run_steps(runs), format)
        return
    columns = [
        Column("run_id", header="run", whole=True), Column("status", whole=True),
        Column("started_at", header="started (UTC)", text=lambda v: f"{v:%Y-%m-%d %H:%M:%S}"),
        Column("seconds", value=lambda r: r.seconds, text=lambda v: f"{v:.2f}", right=True),
        Column("checks", value=lambda r: r.check_counts(),
               text=lambda c: f"{c['pass']} pass, {c['warn']} warn, {c['fail']} fail" if sum(c.values()) else ""),
        Column("error", value=lambda r: r.error),
    ]
    emit(Listing(columns, runs, data=[r.__dict__ | {"seconds": r.seconds} for r in runs]), format, wide=wide)
    if format is Format.table:
        emit(run_steps(runs), format, wide=wide)


@command()
def quality(
    run_id: Annotated[str | None, typer.Option("--run", help="A run id from `insightflow history`.")] = None,
    format: FormatOption = Format.table,
    wide: WideOption = False,
) -> None:
    """The data-quality checks of a run (default: the newest): status, failing rows, examples."""
    record = lakehouse().quality(run_id)
    quarantined = {s["step"]: s.get("quarantined", 0) for s in record.steps if s.get("quarantined")}
    columns = [
        Column("table", whole=True), Column("check"), Column("severity", wide=True),
        Column("status", value=lambda c: c.get("status", "")),
        Column("failing_rows", header="failing rows", right=True),
        Column("examples", value=lambda c: c.get("examples", []),
               text=lambda e: "; ".join(", ".join(f"{k}={v}" for k, v in x.items()) for x in e[:2])),
    ]
    counts = record.check_counts()
    notes = [f"run {record.run_id}: {record.status}; {len(record.checks)} checks, {counts['fail']} failed, "
             f"{counts['warn']} warned"]
    if quarantined:
        rows_in = {s["step"]: s.get("rows_in") or 0 for s in record.steps}
        parts = [f"{t} {n:,} ({n / rows_in[t]:.1%})" if rows_in.get(t) else f"{t} {n:,}" for t, n in quarantined.items()]
        notes.append(f"quarantined by this run: {', '.join(parts)} (`insightflow quarantine --summary` per reason)")
    data = {"run_id": record.run_id, "status": record.status, "checks": record.checks, "quarantined": quarantined}
    emit(Listing(columns, record.checks, notes, data=data), format, wide=wide)


def _parsed(text: str | None) -> object:
    """JSON text as the value it holds (text that is not JSON as itself)."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


@command()
def quarantine(
    table_name: Annotated[str | None, typer.Argument(metavar="[TABLE]", help="Only this table's refused rows.")] = None,
    format: FormatOption = Format.table,
    summary: Annotated[bool, typer.Option("--summary", help="Rows per table and reason instead of each row.")] = False,
    wide: WideOption = False,
) -> None:
    """Rows refused by the published run, with their source file, line and reason."""
    rows = lakehouse().quarantine(table_name)
    total = f"{len(rows):,} quarantined rows"
    if summary:
        counts: dict[tuple[str, str], int] = {}
        for row in rows:
            counts[(row["table"], row["reason"])] = counts.get((row["table"], row["reason"]), 0) + 1
        records = [{"table": t, "reason": r, "rows": n} for (t, r), n in sorted(counts.items())]
        emit(Listing([Column("table", whole=True), Column("reason"), Column("rows", right=True)], records, [total]),
             format)
        return
    # the refused values as JSON objects, not JSON text inside JSON
    records = [{**row, "record": _parsed(row["record"]), "invalid": _parsed(row["invalid"])} for row in rows]
    columns = [
        Column("table", whole=True), Column("source_file", header="source file", wide=True),
        Column("line", right=True), Column("reason"), Column("load_id", header="load id", wide=True, whole=True),
        Column("invalid", header="values", value=lambda r: r["invalid"] or r["record"],
               text=lambda v: json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else str(v or "")),
        Column("record", header="whole record", wide=True,
               text=lambda v: json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else str(v or "")),
    ]
    emit(Listing(columns, records, [total], data=records), format, wide=wide)


@command()
def snapshots(table_name: TableArgument, format: FormatOption = Format.table, wide: WideOption = False) -> None:
    """A table's snapshots, oldest first; `published` marks the one readers see."""
    entries = lakehouse().snapshots(table_name)
    columns = [
        Column("snapshot_id", header="snapshot", text=str, whole=True),
        Column("committed_at", header="committed (UTC)", text=lambda v: f"{v:%Y-%m-%d %H:%M:%S}"),
        Column("operation"), Column("run_id", header="run", whole=True),
        Column("rollback_to", header="rollback to", text=lambda v: str(v or ""), whole=True, wide=True),
        Column("published"),
    ]
    emit(Listing(columns, entries), format, wide=wide)


@command()
def rollback(
    table_name: TableArgument,
    snapshot: Annotated[int, typer.Argument(metavar="SNAPSHOT", help="A snapshot id from `insightflow snapshots TABLE`.")],
) -> None:
    """Make an old snapshot of TABLE current again (a new commit, published as a rollback run)."""
    lake = lakehouse()
    table_name = lake.table_name(table_name)
    record = lake.rollback(table_name, snapshot)
    OUT.print(f"{table_name} is back at the files of snapshot {snapshot}: new snapshot "
              f"{record.snapshots[table_name]}, published by run {record.run_id}")
    warn_bi_sync(record)


@command()
def audit(
    last: Annotated[int, typer.Option("--last", help="Show the last N entries.")] = 20,
    format: FormatOption = Format.table,
    wide: WideOption = False,
) -> None:
    """The newest entries of the audit log: who ran what, when, rows, duration, outcome."""
    columns = [
        Column("at", header="at (UTC)", whole=True), Column("who", whole=True), Column("role", wide=True),
        Column("action"), Column("rows", value=lambda e: e.get("rows"), right=True),
        Column("seconds", value=lambda e: e.get("seconds"), text=lambda v: "" if v is None else f"{v:.3f}", right=True),
        Column("outcome"), Column("error", value=lambda e: e.get("error")),
    ]
    entries = lakehouse().audit(last)
    emit(Listing(columns, entries, data=entries), format, wide=wide)


@command()
def metrics() -> None:
    """The runs' metrics in the Prometheus text format (also in LAKE/metrics/insightflow.prom)."""
    sys.stdout.write(lakehouse().metrics())
