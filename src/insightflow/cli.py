"""The ``insightflow`` command: a thin layer that parses arguments and calls the Python API.

Errors are printed on one line to stderr with a non-zero exit code; ``--debug`` shows the
traceback instead.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from insightflow.errors import InsightFlowError
from insightflow.pipeline import Lakehouse

app = typer.Typer(
    help="InsightFlow: supply-chain CSV exports to an Iceberg star schema, KPIs and a dashboard.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
# Piped output is not cut to 80 columns: scripts and logs get whole table cells.
_OUT = Console(highlight=False, width=None if sys.stdout.isatty() else 240)

LakeOption = Annotated[
    Path | None,
    typer.Option("--lake", help="Lake folder [default: $INSIGHTFLOW_LAKE or ./lakehouse].", show_default=False),
]
DebugOption = Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")]


class TableFormat(str, Enum):
    table = "table"
    json = "json"


class SqlFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


class EngineName(str, Enum):
    duckdb = "duckdb"


def _lake(lake: Path | None) -> Lakehouse:
    return Lakehouse(lake)


def _json(value: object) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def _money(value: float) -> str:
    return f"${value:,.2f}"


@app.command()
def crawl(
    source: Annotated[Path, typer.Argument(help="Folder holding the CSV exports.")],
    lake: LakeOption = None,
    debug: DebugOption = False,
) -> None:
    """Sniff every CSV of SOURCE, match it to its contract and report drift (changes nothing)."""
    report = _lake(lake).crawl(source)
    table = Table("file", "source", "status", "rows", "columns", "encoding", "types (contract→inferred)", "drift")
    for f in report.files:
        sniffed = f.sniffed
        types = ", ".join(f"{h}: {c}→{i}" for h, (c, i) in f.type_drift.items()) or "as contract"
        table.add_row(
            f.path.name,
            f.source or "-",
            f.status if not f.problem else f"{f.status}: {f.problem}",
            f"{sniffed.records:,}" if sniffed else "-",
            str(len(sniffed.header)) if sniffed else "-",
            f"{sniffed.encoding} {sniffed.line_ending} {sniffed.delimiter!r}" if sniffed else "-",
            types if sniffed else "-",
            f.drift,
        )
    _OUT.print(table)
    report.raise_for_rejected()


@app.command()
def ingest(
    source: Annotated[Path, typer.Argument(help="Folder holding the CSV exports.")],
    lake: LakeOption = None,
    debug: DebugOption = False,
) -> None:
    """Land the files of SOURCE and append them to the raw tables (known content is skipped)."""
    result = _lake(lake).ingest(source)
    table = Table("file", "table", "status", "rows", "invalid rows", "load id")
    for load in result.loads:
        status = load.status if load.status == "loaded" else "skipped (content already ingested)"
        table.add_row(load.file, load.table, status, f"{load.rows:,}", f"{load.invalid_rows:,}", load.load_id or "-")
    _OUT.print(table)


@app.command()
def run(
    source: Annotated[
        Path | None, typer.Option("--source", help="Folder of CSV exports [default: the lake's inbox/].")
    ] = None,
    engine: Annotated[EngineName, typer.Option("--engine", help="Engine that runs the models.")] = EngineName.duckdb,
    lake: LakeOption = None,
    debug: DebugOption = False,
) -> None:
    """Crawl + ingest SOURCE, build the star schema, check it and publish it as one run."""
    lakehouse = _lake(lake)
    err = Console(stderr=True, highlight=False)

    def show(step: str, seconds: float, rows: int) -> None:
        err.print(f"  {step:<24} {seconds:7.2f} s {rows:>12,} rows")

    record = lakehouse.run(source, engine=engine.value, on_step=show)
    _OUT.print(f"run {record.run_id}: {record.status} in {record.seconds:.2f} s")


@app.command()
def generate(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the four CSV files into.")],
    scale: Annotated[float, typer.Option("--scale", help="1 = the reference sizes (~160 K order lines).")] = 1.0,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same bytes.")] = 42,
    dirty: Annotated[float, typer.Option("--dirty", help="Share of rows (0-1) given a real-world defect.")] = 0.0,
    lake: LakeOption = None,
    debug: DebugOption = False,
) -> None:
    """Write a synthetic DataCo-shaped export (optionally with defects and their manifest)."""
    from insightflow.generate import generate as generate_export

    result = generate_export(out, scale=scale, seed=seed, dirty=dirty, progress=sys.stderr.isatty())
    for source, path in result.files.items():
        _OUT.print(f"{str(path):<60} {result.rows[source]:>12,} rows")
    if result.manifest:
        _OUT.print(f"{result.defects:,} injected defects listed in {result.manifest}")
    _OUT.print(f"written in {result.seconds:.1f} s")


@app.command()
def demo(lake: LakeOption = None, debug: DebugOption = False) -> None:
    """Generate scale-1 synthetic data into the lake's inbox, run the pipeline, show the KPIs."""
    lakehouse = _lake(lake)
    err = Console(stderr=True, highlight=False)
    err.print(f"generating a synthetic export into {lakehouse.layout.inbox} ...")

    def show(step: str, seconds: float, rows: int) -> None:
        err.print(f"  {step:<24} {seconds:7.2f} s {rows:>12,} rows")

    record = lakehouse.demo(on_step=show)
    _OUT.print(f"run {record.run_id}: {record.status} in {record.seconds:.2f} s")
    _print_kpis(lakehouse.kpis())
    flag = f" --lake {lake}" if lake else ""
    _OUT.print("\nNext, try:")
    _OUT.print(f'  insightflow sql "SELECT shipping_mode, count(*) FROM marts.order_summary GROUP BY 1"{flag}')
    _OUT.print(f"  insightflow quarantine{flag}")
    _OUT.print(f"  insightflow tables{flag}")
    _OUT.print(f"  insightflow history{flag}")


@app.command()
def kpis(
    format: Annotated[TableFormat, typer.Option("--format", help="Output format.")] = TableFormat.table,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Run id, snapshot id or ISO time.")] = None,
    lake: LakeOption = None,
    debug: DebugOption = False,
) -> None:
    """The KPI summary of the published star schema."""
    figures = _lake(lake).kpis(as_of)
    if format is TableFormat.json:
        _json(figures)
    else:
        _print_kpis(figures)


def _print_kpis(figures: dict) -> None:
    table = Table("KPI", "value")
    table.add_row("Products ordered", f"{figures['products_ordered']:,}")
    table.add_row("Gross sales", _money(figures["gross_sales"]))
    table.add_row("Discount", _money(figures["discount"]))
    table.add_row("Net sales", _money(figures["net_sales"]))
    table.add_row("Net profit", _money(figures["net_profit"]))
    table.add_row("Orders placed", f"{figures['orders_placed']:,}")
    table.add_row("Avg shipping days", f"{figures['avg_shipping_days']:.2f}")
    table.add_row("Late deliveries", f"{figures['late_deliveries']:,}")
    for mode, rate in figures["on_time_rate_by_mode"].items():
        table.add_row(f"On-time rate, {mode}", f"{rate:.1%}")
    _OUT.print(table)


@app.command()
def sql(
    statement: Annotated[str, typer.Argument(help='One read-only statement, e.g. "SELECT * FROM marts.fact_sales LIMIT 5".')],
    format: Annotated[SqlFormat, typer.Option("--format", help="Output format.")] = SqlFormat.table,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Run id, snapshot id or ISO time.")] = None,
    lake: LakeOption = None,
    debug: DebugOption = False,
) -> None:
    """Query the lake's tables with SQL (tables as schema.table, at the published run)."""
    columns, rows = _lake(lake).sql(statement, as_of)
    if format is SqlFormat.json:
        _json([dict(zip(columns, r, strict=True)) for r in rows])
    elif format is SqlFormat.csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
        sys.stdout.write(buffer.getvalue())
    else:
        table = Table(*columns)
        for row in rows:
            table.add_row(*("NULL" if v is None else str(v) for v in row))
        _OUT.print(table)


@app.command()
def tables(lake: LakeOption = None, debug: DebugOption = False) -> None:
    """Every table: rows, current snapshot, number of snapshots, files and size."""
    lakehouse = _lake(lake)
    infos = lakehouse.tables()
    table = Table("table", "rows", "snapshot", "snapshots", "files", "size")
    for info in infos:
        table.add_row(
            info.name, f"{info.rows:,}", str(info.snapshot_id or "-"), str(info.snapshots),
            str(info.files), f"{info.bytes / 1e6:,.2f} MB",
        )
    _OUT.print(table)
    csv_bytes = lakehouse.landing_bytes()
    raw_bytes = sum(i.bytes for i in infos if i.name.startswith("raw."))
    if raw_bytes:
        _OUT.print(
            f"source CSVs {csv_bytes / 1e6:,.2f} MB -> raw tables {raw_bytes / 1e6:,.2f} MB of Parquet "
            f"(compression ratio {csv_bytes / raw_bytes:.1f}x)"
        )


@app.command()
def history(
    last: Annotated[int, typer.Option("--last", help="Show the last N runs.")] = 10,
    format: Annotated[TableFormat, typer.Option("--format", help="Output format.")] = TableFormat.table,
    lake: LakeOption = None,
    debug: DebugOption = False,
) -> None:
    """The recorded runs, newest last, with per-step timings."""
    runs = _lake(lake).history()[-last:]
    if format is TableFormat.json:
        _json([r.__dict__ | {"seconds": r.seconds} for r in runs])
        return
    table = Table("run", "status", "started (UTC)", "seconds", "steps", "error")
    for r in runs:
        steps = ", ".join(f"{s['step'].split('.')[-1]} {s['seconds']:.2f}s" for s in r.steps)
        table.add_row(r.run_id, r.status, f"{r.started_at:%Y-%m-%d %H:%M:%S}", f"{r.seconds:.2f}", steps, r.error or "")
    _OUT.print(table)


@app.command()
def quarantine(
    table_name: Annotated[str | None, typer.Argument(metavar="[TABLE]", help="Only this table's refused rows.")] = None,
    format: Annotated[TableFormat, typer.Option("--format", help="Output format.")] = TableFormat.table,
    lake: LakeOption = None,
    debug: DebugOption = False,
) -> None:
    """Rows refused by the published run, with their source file, line and reason."""
    rows = _lake(lake).quarantine(table_name)
    if format is TableFormat.json:
        _json(rows)
        return
    table = Table("table", "source file", "line", "reason", "values")
    for row in rows:
        table.add_row(row["table"], row["source_file"] or "", str(row["line"] or ""), row["reason"], row["invalid"] or row["record"])
    _OUT.print(table)
    _OUT.print(f"{len(rows):,} quarantined rows")


def main() -> None:
    """Entry point: run the command; turn errors into one line on stderr and an exit code."""
    debug = "--debug" in sys.argv
    try:
        app()  # Typer reports usage errors itself (exit code 2) and exits
    except InsightFlowError as error:
        if debug:
            raise
        _fail(str(error), error.exit_code)
    except Exception as error:  # a bug: still one line, unless --debug
        if debug:
            raise
        _fail(f"unexpected {type(error).__name__}: {error} (run with --debug for the traceback)", 70)


def _fail(message: str, code: int) -> None:
    sys.stderr.write("insightflow: error: " + " ".join(message.split()) + "\n")
    sys.exit(code)


if __name__ == "__main__":
    main()
