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
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from insightflow.console import TextConsole, visible
from insightflow.errors import InsightFlowError, UsageError
from insightflow.lake import RunRecord
from insightflow.pipeline import Lakehouse
from insightflow.transform.models import STAGES

app = typer.Typer(
    help="InsightFlow: supply-chain CSV exports to an Iceberg star schema, KPIs and a dashboard.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(show: bool) -> None:
    if show:
        from insightflow import __version__

        sys.stdout.write(f"insightflow {__version__}\n")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """InsightFlow: supply-chain CSV exports to an Iceberg star schema, KPIs and a dashboard."""


# Piped output is not cut to 80 columns: scripts and logs get whole table cells.
_OUT = TextConsole(width=None if sys.stdout.isatty() else 240)

LakeOption = Annotated[
    Path | None,
    typer.Option("--lake", help="Lake folder [default: $INSIGHTFLOW_LAKE or ./lakehouse].", show_default=False),
]
DebugOption = Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")]
EncodingOption = Annotated[
    str | None,
    typer.Option("--encoding", metavar="NAME", show_default=False,
                 help="The files' encoding (utf-8, utf-16, cp1252, latin-1 …) [default: detected, or [encodings]]."),
]


class TableFormat(str, Enum):
    table = "table"
    json = "json"


class SqlFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    parquet = "parquet"


class Role(str, Enum):
    viewer = "viewer"
    analyst = "analyst"
    admin = "admin"


class EngineName(str, Enum):
    duckdb = "duckdb"
    spark = "spark"


def _lake(lake: Path | None) -> Lakehouse:
    return Lakehouse(lake)


def _parsed(text: str | None) -> object:
    """JSON text as the value it holds (text that is not JSON as itself)."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _json(value: object) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def _money(value: float) -> str:
    return f"${value:,.2f}"


@app.command()
def crawl(
    source: Annotated[str, typer.Argument(help="Folder (or s3://bucket/prefix) holding the CSV exports.")],
    encoding: EncodingOption = None,
    lake: LakeOption = None,
    debug: DebugOption = False,
) -> None:
    """Sniff every CSV of SOURCE, match it to its contract and report drift (changes nothing)."""
    report = _lake(lake).crawl(source, encoding=encoding)
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
    source: Annotated[str, typer.Argument(help="Folder (or s3://bucket/prefix) holding the CSV exports.")],
    encoding: EncodingOption = None,
    lake: LakeOption = None,
    debug: DebugOption = False,
) -> None:
    """Land the files of SOURCE and append them to the raw tables (known content is skipped)."""
    result = _lake(lake).ingest(source, encoding=encoding)
    table = Table("file", "table", "status", "rows", "invalid rows", "load id")
    for load in result.loads:
        status = load.status if load.status == "loaded" else "skipped (content already ingested)"
        table.add_row(load.file, load.table, status, f"{load.rows:,}", f"{load.invalid_rows:,}", load.load_id or "-")
    _OUT.print(table)


Stage = Enum("Stage", {name: name for name in STAGES}, type=str)  # all, ingest, dims, facts


@app.command()
def run(
    folder: Annotated[
        str | None, typer.Argument(metavar="[SOURCE]", show_default=False,
                                   help="Folder (or s3://bucket/prefix) of CSV exports, as --source.")
    ] = None,
    source: Annotated[
        str | None, typer.Option("--source", help="Folder (or s3://bucket/prefix) of CSV exports [default: the lake's inbox/].")
    ] = None,
    stage: Annotated[
        Stage, typer.Option("--stage", help="Run one stage: ingest, dims (job 1) or facts (job 2).")
    ] = Stage.all,  # type: ignore[attr-defined]
    engine: Annotated[EngineName, typer.Option("--engine", help="Engine that runs the models.")] = EngineName.duckdb,
    spark_master: Annotated[
        str | None,
        typer.Option(
            "--spark-master", metavar="URL", show_default=False,
            help="Spark master: local[N], spark://HOST:7077, yarn [default: local[2]].",
        ),
    ] = None,
    spark_conf: Annotated[
        list[str] | None,
        typer.Option(
            "--spark-conf", metavar="KEY=VALUE", show_default=False,
            help="A Spark setting, e.g. spark.executor.memory=8g; repeatable.",
        ),
    ] = None,
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="Rebuild every table from every load (same tables, slower).")
    ] = False,
    encoding: EncodingOption = None,
    lake: LakeOption = None,
    debug: DebugOption = False,
) -> None:
    """Crawl + ingest SOURCE, build the star schema, check it and publish it as one run.

    Each table is rebuilt only where the new loads change it; --full-refresh rebuilds everything."""
    if folder and source and folder != source:
        raise UsageError(f"give the exports once: {folder!r} or --source {source!r}")
    source = source or folder
    options: dict = {}
    if spark_master:
        options["master"] = spark_master
    if spark_conf:
        bad = [item for item in spark_conf if "=" not in item or not item.partition("=")[0].strip()]
        if bad:
            raise UsageError(f"--spark-conf takes KEY=VALUE, got {', '.join(map(repr, bad))}")
        options["conf"] = {key.strip(): value for key, _, value in (i.partition("=") for i in spark_conf)}
    record = _run_live(_lake(lake), source, stage=stage.value, engine=engine.value, engine_options=options,
                       full_refresh=full_refresh, encoding=encoding)
    _OUT.print(f"run {record.run_id}: {record.status} in {record.seconds:.2f} s")
    ingest = next((s for s in record.steps if s["step"] == "ingest"), None)
    if ingest is not None and not ingest["rows"] and not ingest.get("bytes_written"):
        _OUT.print("nothing new: every file of the source was ingested before (its content is known); "
                   "the published tables are unchanged")
    _print_bi_sync(record)


def _print_bi_sync(record: RunRecord) -> None:
    """What serving a published run to the BI database did (nothing when none is set)."""
    if record.bi_sync and record.bi_sync.startswith("failed"):
        sys.stderr.write(f"insightflow: warning: published, BI sync failed: {visible(record.bi_sync.removeprefix('failed: '))} "
                         "(`insightflow bi sync` catches up)\n")
    elif record.bi_sync:
        _OUT.print(f"BI database {record.bi_sync}")


def _run_live(lakehouse: Lakehouse, source: str | Path | None, **options: object) -> RunRecord:
    """``Lakehouse.run`` with a live display of its steps on a terminal, then their summary."""
    err = TextConsole(stderr=True, width=None if sys.stderr.isatty() else 240)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=err, transient=True, disable=not err.is_terminal) as progress:
        task = progress.add_task("starting", total=None)

        def started(step: str) -> None:
            progress.update(task, description=f"{step} ...")

        def finished(step: str, seconds: float, rows: int) -> None:
            if err.is_terminal:  # live, above the spinner; logs get the table at the end
                progress.console.print(f"  {step:<24} {seconds:7.2f} s {rows:>12,} rows")

        # a failure is one line (`insightflow history` shows the failed run's steps)
        record = lakehouse.run(source, on_start=started, on_step=finished, **options)  # type: ignore[arg-type]
    _print_steps(err, [record])
    return record


def _print_steps(console: TextConsole, runs: list[RunRecord]) -> None:
    """Per step of each run: time, rows in and out, quarantined rows, bytes written, attempts."""
    table = Table("run", "step", "status", "seconds", "rows in", "rows out", "quarantined", "written",
                  "ratio", "attempts")
    for run in runs:
        for i, step in enumerate(run.steps):
            counts = ["-" if step.get(k) is None else f"{step[k]:,}" for k in ("rows_in", "rows", "quarantined")]
            written = step.get("bytes_written") or 0
            ratio = step.get("compression_ratio")
            table.add_row(
                run.run_id if i == 0 else "", step["step"], step.get("status", run.status),
                f"{step['seconds']:.2f}", *counts,
                f"{written / 1e6:,.2f} MB" if written else "-", f"{ratio:.1f}x" if ratio else "-",
                str(step.get("attempts", 1)),
            )
    if table.row_count:
        console.print(table)


@app.command()
def generate(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the four CSV files into.")],
    scale: Annotated[float, typer.Option("--scale", help="1 = the reference sizes (~160 K order lines).")] = 1.0,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same bytes.")] = 42,
    dirty: Annotated[float, typer.Option("--dirty", help="Share of rows (0-1) given a real-world defect.")] = 0.0,
    days: Annotated[
        int | None, typer.Option("--days", help="Write N daily full exports into OUT/day-01 … (each day "
                                 "~0.5% new orders, ~1% of lines changed).", show_default=False),
    ] = None,
    lake: LakeOption = None,
    debug: DebugOption = False,
) -> None:
    """Write a synthetic DataCo-shaped export (optionally with defects and their manifest)."""
    from insightflow.generate import generate as generate_export
    from insightflow.generate import generate_days

    if days is not None:
        series = generate_days(out, days, scale=scale, seed=seed, dirty=dirty)
        for folder, rows in zip(series.folders, series.rows, strict=True):
            _OUT.print(f"{str(folder):<60} {rows['orders']:>12,} order lines {rows['deliveries']:>10,} orders")
        _OUT.print(f"written in {series.seconds:.1f} s")
        return
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
    err = TextConsole(stderr=True)
    err.print(f"generating a synthetic export into {lakehouse.layout.inbox} ...")

    lakehouse.generate_demo()
    record = _run_live(lakehouse, lakehouse.layout.inbox)
    _OUT.print(f"run {record.run_id}: {record.status} in {record.seconds:.2f} s")
    _print_kpis(lakehouse.kpis())
    flag = f" --lake {lake}" if lake else ""
    # as invoked (e.g. .venv/bin/insightflow from `make demo`), so the hints can be pasted as they are
    program = sys.argv[0] if "/" in sys.argv[0] and sys.argv[0].endswith("insightflow") else "insightflow"
    _OUT.print("\nNext, try:")
    _OUT.print(f'  {program} sql "SELECT shipping_mode, count(*) FROM marts.order_summary GROUP BY 1"{flag}')
    _OUT.print(f"  {program} dashboard{flag}      # then open http://127.0.0.1:8501")
    _OUT.print(f"  {program} quarantine{flag}")
    _OUT.print(f"  {program} tables{flag}")
    _OUT.print(f"  {program} history{flag}")
    _OUT.print(f"  {program} ui{flag}             # the orchestrator (Dagster): http://127.0.0.1:3000")


@app.command()
def kpis(
    name: Annotated[str | None, typer.Argument(metavar="[NAME]", help="A KPI of the catalogue (default: the summary); `--list` names them.")] = None,
    format: Annotated[TableFormat, typer.Option("--format", help="Output format.")] = TableFormat.table,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Run id, snapshot id or ISO time.")] = None,
    year: Annotated[int | None, typer.Option("--year", help="Only orders shipped in this year.")] = None,
    quarter: Annotated[int | None, typer.Option("--quarter", help="Only orders shipped in this quarter (1-4).")] = None,
    shipping_mode: Annotated[str | None, typer.Option("--shipping-mode", help='e.g. "Standard Class".')] = None,
    category: Annotated[str | None, typer.Option("--category", help="Only lines of this product category.")] = None,
    segment: Annotated[str | None, typer.Option("--segment", help="Only customers of this segment.")] = None,
    top: Annotated[int, typer.Option("--top", help="Rows of top_products.")] = 10,
    list_names: Annotated[bool, typer.Option("--list", help="List the KPIs of the catalogue.")] = False,
    lake: LakeOption = None,
    debug: DebugOption = False,
) -> None:
    """The KPI summary of the published star schema, or one KPI of the catalogue."""
    from insightflow.query import CATALOGUE, KpiFilters

    if list_names:
        table = Table("KPI", "what it shows")
        for entry in CATALOGUE.values():
            table.add_row(entry.name, entry.description)
        _OUT.print(table)
        return
    filters = KpiFilters(year, quarter, shipping_mode, category, segment)
    lakehouse = _lake(lake)
    if name is None or name == "summary":
        figures = lakehouse.kpis(as_of, filters)
        _json(figures) if format is TableFormat.json else _print_kpis(figures)
        return
    result = lakehouse.kpi(name, filters, as_of, top=top)
    if format is TableFormat.json:
        _json([dict(zip(result.columns, r, strict=True)) for r in result.rows])
    else:
        _print_rows(result.columns, result.rows)


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
    format: Annotated[SqlFormat, typer.Option("--format", help="Output format (parquet needs --out).")] = SqlFormat.table,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Run id, snapshot id or ISO time.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the result to this file instead of stdout.")] = None,
    max_rows: Annotated[int | None, typer.Option(
        "--max-rows", show_default=False,
        help="Return at most N rows, the rest cut with a warning; 0: no limit [default: 10000, all rows with --out].")] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Stop the query after this many seconds.")] = 30.0,
    lake: LakeOption = None,
    debug: DebugOption = False,
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
    result = _lake(lake).query(statement, as_of, limits=limits)
    columns, rows = result.columns, result.rows
    if format is SqlFormat.parquet:
        import pyarrow.parquet as pq

        pq.write_table(result.arrow, out, compression="zstd")
        _OUT.print(f"{len(rows):,} rows written to {out}")
    elif format is SqlFormat.json:
        _write(out, json.dumps([dict(zip(columns, r, strict=True)) for r in rows], indent=2, default=str) + "\n")
    elif format is SqlFormat.csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
        _write(out, buffer.getvalue())
    else:
        _print_rows(columns, rows)
    if result.truncated:
        sys.stderr.write(f"insightflow: warning: result cut to {len(rows):,} rows (--max-rows, or the answer's "
                         f"bound of {limits.max_bytes // 2**20:,} MiB)\n")


def _write(out: Path | None, text: str) -> None:
    if out is None:
        sys.stdout.write(text)
    else:
        Path(out).write_text(text, encoding="utf-8")


def _print_rows(columns: list[str], rows: list[tuple]) -> None:
    table = Table(*columns)
    for row in rows:
        table.add_row(*("NULL" if v is None else str(v) for v in row))
    _OUT.print(table)


@app.command()
def snapshots(
    table_name: Annotated[str, typer.Argument(metavar="TABLE", help="A table, e.g. marts.fact_sales.")],
    format: Annotated[TableFormat, typer.Option("--format", help="Output format.")] = TableFormat.table,
    lake: LakeOption = None,
    debug: DebugOption = False,
) -> None:
    """A table's snapshots, oldest first; `published` marks the one readers see."""
    entries = _lake(lake).snapshots(table_name)
    if format is TableFormat.json:
        _json(entries)
        return
    table = Table("snapshot", "committed (UTC)", "operation", "run", "rollback to", "published")
    for e in entries:
        table.add_row(str(e["snapshot_id"]), f"{e['committed_at']:%Y-%m-%d %H:%M:%S}", e["operation"],
                      e["run_id"] or "", e["rollback_to"] or "", "yes" if e["published"] else "")
    _OUT.print(table)


@app.command()
def rollback(
    table_name: Annotated[str, typer.Argument(metavar="TABLE", help="A table, e.g. marts.fact_sales.")],
    snapshot: Annotated[int, typer.Argument(metavar="SNAPSHOT", help="A snapshot id from `insightflow snapshots TABLE`.")],
    lake: LakeOption = None,
    debug: DebugOption = False,
) -> None:
    """Make an old snapshot of TABLE current again (a new commit, published as a rollback run)."""
    lakehouse = _lake(lake)
    table_name = lakehouse.table_name(table_name)
    record = lakehouse.rollback(table_name, snapshot)
    _OUT.print(f"{table_name} is back at the files of snapshot {snapshot}: new snapshot "
               f"{record.snapshots[table_name]}, published by run {record.run_id}")
    _print_bi_sync(record)


TlsCertOption = Annotated[
    Path | None, typer.Option("--tls-cert", help="Serve HTTPS with this certificate (PEM) [default: [server] tls_cert].",
                              show_default=False)]
TlsKeyOption = Annotated[
    Path | None, typer.Option("--tls-key", help="The certificate's private key (PEM) [default: [server] tls_key].",
                              show_default=False)]


@app.command()
def serve(
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1.")] = 8765,
    tls_cert: TlsCertOption = None,
    tls_key: TlsKeyOption = None,
    lake: LakeOption = None,
    debug: DebugOption = False,
) -> None:
    """Serve the HTTP API (KPIs, SQL, runs, metrics) on 127.0.0.1 with bearer tokens."""
    from insightflow.api import serve as serve_api

    lakehouse = _lake(lake)
    serve_api(lakehouse, port, lakehouse.catalog.settings.tls(tls_cert, tls_key))


@app.command()
def dashboard(
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1.")] = 8501,
    tls_cert: TlsCertOption = None,
    tls_key: TlsKeyOption = None,
    lake: LakeOption = None,
    debug: DebugOption = False,
) -> None:
    """Serve the dashboard (Streamlit) on 127.0.0.1: KPI cards, charts, filters, drill-down."""
    from insightflow.dashboard import serve as serve_dashboard

    lakehouse = _lake(lake)
    serve_dashboard(lakehouse.layout.root, port, lakehouse.catalog.settings.tls(tls_cert, tls_key))


@app.command()
def audit(
    last: Annotated[int, typer.Option("--last", help="Show the last N entries.")] = 20,
    format: Annotated[TableFormat, typer.Option("--format", help="Output format.")] = TableFormat.table,
    lake: LakeOption = None,
    debug: DebugOption = False,
) -> None:
    """The newest entries of the audit log: who ran what, when, rows, duration, outcome."""
    entries = _lake(lake).audit(last)
    if format is TableFormat.json:
        _json(entries)
        return
    table = Table("at (UTC)", "who", "role", "action", "rows", "seconds", "outcome")
    for e in entries:
        table.add_row(e["at"], e["who"], e["role"], e["action"], "" if e.get("rows") is None else str(e["rows"]),
                      "" if e.get("seconds") is None else f"{e['seconds']:.3f}",
                      e["outcome"] + (f": {e['error']}" if e.get("error") else ""))
    _OUT.print(table)


token_app = typer.Typer(help="API tokens (only their sha256 is stored).", no_args_is_help=True)
app.add_typer(token_app, name="token")


@token_app.command("add")
def token_add(
    name: Annotated[str, typer.Argument(help="Who holds the token.")],
    role: Annotated[Role, typer.Option("--role", help="viewer (KPIs), analyst (+ SQL), admin (+ runs).")] = Role.viewer,
    pii: Annotated[bool, typer.Option("--pii", help="May see customer names, cities and zip codes.")] = False,
    lake: LakeOption = None,
    debug: DebugOption = False,
) -> None:
    """Create a token for NAME and print it once."""
    from insightflow.api import TokenStore, tokens_path

    path = tokens_path(_lake(lake).layout)
    token = TokenStore(path).add(name, role.value, pii)
    TextConsole(stderr=True).print(f"token for {name} ({role.value}{', pii' if pii else ''}) "
                                                f"added to {path}; it is shown only now:")
    sys.stdout.write(token + "\n")


@token_app.command("list")
def token_list(lake: LakeOption = None, debug: DebugOption = False) -> None:
    """Who holds a token: name, role and the PII grant (the tokens themselves are not stored)."""
    from insightflow.api import TokenStore, tokens_path

    path = tokens_path(_lake(lake).layout)
    table = Table("name", "role", "pii")
    principals = TokenStore(path).list()
    for principal in principals:
        table.add_row(principal.name, principal.role, "yes" if principal.pii else "no")
    _OUT.print(table)
    _OUT.print(f"{len(principals)} tokens in {path}")


@token_app.command("revoke")
def token_revoke(
    name: Annotated[str, typer.Argument(help="Whose token to remove.")],
    lake: LakeOption = None,
    debug: DebugOption = False,
) -> None:
    """Remove NAME's token: the API refuses it from the next request on."""
    from insightflow.api import TokenStore, tokens_path

    path = tokens_path(_lake(lake).layout)
    TokenStore(path).revoke(name)
    _OUT.print(f"token of {name} revoked ({path})")


@app.command()
def verify(
    format: Annotated[TableFormat, typer.Option("--format", help="Output format.")] = TableFormat.table,
    lake: LakeOption = None,
    debug: DebugOption = False,
) -> None:
    """Check every published data file and landing copy against its checksum; exit 1 on a problem."""
    report = _lake(lake).verify()
    if format is TableFormat.json:
        _json(report.__dict__)
    else:
        if report.problems:
            table = Table("table", "file", "problem")
            for problem in report.problems:
                table.add_row(problem["table"], problem["file"], problem["problem"])
            _OUT.print(table)
        unrecorded = f" ({report.unrecorded:,} written before checksums: size and footer only)" if report.unrecorded else ""
        _OUT.print(f"{report.files:,} data files ({report.bytes / 1e6:,.1f} MB){unrecorded} and {report.landing:,} "
                   f"landing copies read: {len(report.problems)} problems")
    if report.problems:
        raise typer.Exit(1)


@app.command()
def reset(
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask first.")] = False,
    lake: LakeOption = None,
    debug: DebugOption = False,
) -> None:
    """Start the lake over: delete its tables, landing copies, catalog and history (settings and tokens stay)."""
    lakehouse = _lake(lake)
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError(f"reset deletes every table of {lakehouse.layout.root}: add --yes to confirm")
        typer.confirm(f"Delete every table, landing copy and run of {lakehouse.layout.root}?", abort=True)
    removed = lakehouse.reset()
    _OUT.print(f"{lakehouse.layout.root} reset: {', '.join(removed) or 'it was empty'} deleted "
               "(insightflow.toml and the API tokens kept)")


@app.command()
def repair(
    from_backup: Annotated[bool, typer.Option("--from-backup", help="Put back the copy the last published run left (catalog.db.bak).")] = False,
    lake: LakeOption = None,
    debug: DebugOption = False,
) -> None:
    """Make a missing, emptied or corrupt catalog work again: every table registered from its newest metadata."""
    done, tables = _lake(lake).repair(from_backup=from_backup)
    _OUT.print(done + (f": {', '.join(tables)}" if tables else ""))


bi_app = typer.Typer(help="The serving database for BI tools (PostgreSQL protocol: [bi] url, $INSIGHTFLOW_BI_URL).",
                     no_args_is_help=True)
app.add_typer(bi_app, name="bi")


@bi_app.command("sync")
def bi_sync(
    full: Annotated[bool, typer.Option("--full", help="Rebuild every served table, not only what changed.")] = False,
    lake: LakeOption = None,
    debug: DebugOption = False,
) -> None:
    """Serve the lake's published run in the BI database (only what changed since the served run)."""
    result = _lake(lake).bi_sync(full=full)
    _OUT.print(f"BI database {result.describe()}")


@bi_app.command("status")
def bi_status(
    check: Annotated[bool, typer.Option("--check", help="Exit 1 when the database is behind the lake.")] = False,
    format: Annotated[TableFormat, typer.Option("--format", help="Output format.")] = TableFormat.table,
    lake: LakeOption = None,
    debug: DebugOption = False,
) -> None:
    """Which run the BI database serves, and whether the lake has published a newer one."""
    state = _lake(lake).bi_status()
    if format is TableFormat.json:
        _json(state.__dict__ | {"behind": state.behind})
    else:
        served = (f"run {state.served_run} ({state.mode} sync at {state.synced_at:%Y-%m-%d %H:%M:%S %Z})"
                  if state.served_run else "nothing yet")
        _OUT.print(f"BI database {state.target} serves {served}; the lake's published run is "
                   f"{state.published_run or 'none yet'}" + (": behind, `insightflow bi sync` catches up"
                                                            if state.behind else ": current"))
    if check and state.behind:
        raise typer.Exit(1)


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
    """The recorded runs, newest last, then each step of them: time, rows, bytes written."""
    lakehouse = _lake(lake)
    lakehouse.require_lake()
    runs = lakehouse.history()[-last:] if last > 0 else []
    if format is TableFormat.json:
        _json([r.__dict__ | {"seconds": r.seconds} for r in runs])
        return
    table = Table("run", "status", "started (UTC)", "seconds", "checks", "error")
    for r in runs:
        statuses = [c.get("status", "pass") for c in r.checks]
        checks = f"{statuses.count('pass')} pass, {statuses.count('warn')} warn, {statuses.count('fail')} fail"
        table.add_row(r.run_id, r.status, f"{r.started_at:%Y-%m-%d %H:%M:%S}", f"{r.seconds:.2f}",
                      checks if statuses else "-", r.error or "")
    _OUT.print(table)
    _print_steps(_OUT, runs)


@app.command()
def metrics(
    lake: LakeOption = None,
    debug: DebugOption = False,
) -> None:
    """The runs' metrics in the Prometheus text format (also in LAKE/metrics/insightflow.prom)."""
    sys.stdout.write(_lake(lake).metrics())


@app.command()
def ui(
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1.")] = 3000,
    lake: LakeOption = None,
    debug: DebugOption = False,
) -> None:
    """Serve the orchestrator's UI (Dagster: assets, runs, schedule, inbox sensor) on 127.0.0.1."""
    from insightflow.orchestration.ui import serve as serve_ui

    serve_ui(_lake(lake).layout.root, port)


@app.command()
def quarantine(
    table_name: Annotated[str | None, typer.Argument(metavar="[TABLE]", help="Only this table's refused rows.")] = None,
    format: Annotated[TableFormat, typer.Option("--format", help="Output format.")] = TableFormat.table,
    summary: Annotated[bool, typer.Option("--summary", help="Rows per table and reason instead of each row.")] = False,
    lake: LakeOption = None,
    debug: DebugOption = False,
) -> None:
    """Rows refused by the published run, with their source file, line and reason."""
    rows = _lake(lake).quarantine(table_name)
    if summary:
        counts: dict[tuple[str, str], int] = {}
        for row in rows:
            counts[(row["table"], row["reason"])] = counts.get((row["table"], row["reason"]), 0) + 1
        if format is TableFormat.json:
            _json([{"table": t, "reason": r, "rows": n} for (t, r), n in sorted(counts.items())])
            return
        table = Table("table", "reason", "rows")
        for (name, reason), count in sorted(counts.items()):
            table.add_row(name, reason, f"{count:,}")
        _OUT.print(table)
        _OUT.print(f"{len(rows):,} quarantined rows")
        return
    if format is TableFormat.json:  # the refused values as JSON objects, not JSON text inside JSON
        _json([{**row, "record": _parsed(row["record"]), "invalid": _parsed(row["invalid"])} for row in rows])
        return
    table = Table("table", "source file", "line", "reason", "values")
    for row in rows:
        table.add_row(row["table"], row["source_file"] or "", str(row["line"] or ""), row["reason"], row["invalid"] or row["record"])
    _OUT.print(table)
    _OUT.print(f"{len(rows):,} quarantined rows")


@app.command()
def quality(
    run_id: Annotated[str | None, typer.Option("--run", help="A run id from `insightflow history`.")] = None,
    format: Annotated[TableFormat, typer.Option("--format", help="Output format.")] = TableFormat.table,
    lake: LakeOption = None,
    debug: DebugOption = False,
) -> None:
    """The data-quality checks of a run (default: the newest): status, failing rows, examples."""
    record = _lake(lake).quality(run_id)
    quarantined = {s["step"]: s.get("quarantined", 0) for s in record.steps if s.get("quarantined")}
    if format is TableFormat.json:
        _json({"run_id": record.run_id, "status": record.status, "checks": record.checks, "quarantined": quarantined})
        return
    table = Table("table", "check", "severity", "status", "failing rows", "examples")
    for check in record.checks:
        examples = "; ".join(", ".join(f"{k}={v}" for k, v in e.items()) for e in check.get("examples", [])[:2])
        table.add_row(check["table"], check["check"], check["severity"], check.get("status", ""),
                      f"{check['failing_rows']:,}", examples)
    _OUT.print(table)
    failed = sum(c.get("status") == "fail" for c in record.checks)
    warned = sum(c.get("status") == "warn" for c in record.checks)
    _OUT.print(f"run {record.run_id}: {record.status}; {len(record.checks)} checks, {failed} failed, {warned} warned")
    if quarantined:
        rows_in = {s["step"]: s.get("rows_in") or 0 for s in record.steps}
        parts = [f"{t} {n:,} ({n / rows_in[t]:.1%})" if rows_in.get(t) else f"{t} {n:,}" for t, n in quarantined.items()]
        _OUT.print(f"quarantined by this run: {', '.join(parts)} (`insightflow quarantine --summary` per reason)")


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
    sys.stderr.write("insightflow: error: " + visible(" ".join(message.split())) + "\n")
    sys.exit(code)


if __name__ == "__main__":
    main()
