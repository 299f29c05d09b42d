"""Commands that write the lake: crawl, ingest, run, generate, demo, reset, repair, verify."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from insightflow.cli.base import (
    EncodingOption,
    EngineName,
    FormatOption,
    WideOption,
    command,
    lake_flag,
    lakehouse,
)
from insightflow.cli.render import ERR, OUT, Column, Format, Listing, emit
from insightflow.cli.views import kpi_summary, run_steps, warn_bi_sync
from insightflow.errors import UsageError
from insightflow.lake import RunRecord
from insightflow.lakehouse import Lakehouse
from insightflow.transform.models import STAGES

SourceArgument = Annotated[str, typer.Argument(help="Folder (or s3://bucket/prefix) holding the CSV exports.")]


@command()
def crawl(source: SourceArgument, encoding: EncodingOption = None, format: FormatOption = Format.table,
          wide: WideOption = False) -> None:
    """Sniff every CSV of SOURCE, match it to its contract and report drift (changes nothing)."""
    report = lakehouse().crawl(source, encoding=encoding)

    def sniffed(attribute: str):  # noqa: ANN202 - a column's value getter
        return lambda f: getattr(f.sniffed, attribute) if f.sniffed else None

    columns = [
        Column("file", value=lambda f: f.path.name, whole=True),
        Column("source", value=lambda f: f.source),
        Column("status", value=lambda f: f.status if not f.problem else f"{f.status}: {f.problem}"),
        Column("rows", value=sniffed("records"), right=True),
        Column("columns", value=lambda f: len(f.sniffed.header) if f.sniffed else None, right=True, wide=True),
        Column("encoding", value=sniffed("encoding")),
        Column("line_ending", header="line end", value=sniffed("line_ending"), wide=True),
        Column("delimiter", value=sniffed("delimiter"), text=lambda v: "" if v is None else repr(v), wide=True),
        Column("type_drift", header="types (contract→inferred)",
               value=lambda f: {h: {"contract": c, "inferred": i} for h, (c, i) in f.type_drift.items()},
               text=lambda v: ", ".join(f"{h}: {t['contract']}→{t['inferred']}" for h, t in v.items()) or "as contract"),
        Column("drift", value=lambda f: f.drift),
    ]
    emit(Listing(columns, report.files), format, wide=wide)
    report.raise_for_rejected()


@command()
def ingest(source: SourceArgument, encoding: EncodingOption = None, format: FormatOption = Format.table) -> None:
    """Land the files of SOURCE and append them to the raw tables (known content is skipped)."""
    result = lakehouse().ingest(source, encoding=encoding)
    columns = [
        Column("file", whole=True), Column("table", whole=True),
        Column("status", text=lambda s: s if s == "loaded" else "skipped (content already ingested)"),
        Column("rows", right=True), Column("invalid_rows", header="invalid rows", right=True),
        Column("load_id", header="load id", whole=True),
    ]
    emit(Listing(columns, [vars(load) for load in result.loads]), format)


Stage = Enum("Stage", {name: name for name in STAGES}, type=str)  # all, ingest, dims, facts


@command()
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
    engine: Annotated[EngineName, typer.Option("--engine", help="Engine that runs the models.")] = EngineName.duckdb,  # type: ignore[attr-defined]
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
) -> None:
    """Crawl + ingest SOURCE, build the star schema, check it and publish it as one run.

    Each table is rebuilt only where the new loads change it; --full-refresh rebuilds everything."""
    if folder and source and folder != source:
        raise UsageError(f"give the exports once: {folder!r} or --source {source!r}")
    options: dict = {}
    if spark_master:
        options["master"] = spark_master
    if spark_conf:
        options["conf"] = _key_values("--spark-conf", spark_conf)
    record = _run_live(lakehouse(), source or folder, stage=stage.value, engine=engine.value,
                       engine_options=options, full_refresh=full_refresh, encoding=encoding)
    OUT.print(f"run {record.run_id}: {record.status} in {record.seconds:.2f} s")
    if record.ingested_nothing:
        OUT.print("nothing new: every file of the source was ingested before (its content is known); "
                  "the published tables are unchanged")
    warn_bi_sync(record)


def _key_values(option: str, items: list[str]) -> dict[str, str]:
    bad = [item for item in items if "=" not in item or not item.partition("=")[0].strip()]
    if bad:
        raise UsageError(f"{option} takes KEY=VALUE, got {', '.join(map(repr, bad))}")
    return {key.strip(): value for key, _, value in (item.partition("=") for item in items)}


def _run_live(lake: Lakehouse, source: str | Path | None, **options: object) -> RunRecord:
    """``Lakehouse.run`` with a live display of its steps on a terminal, then their summary."""
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=ERR, transient=True, disable=not ERR.is_terminal) as progress:
        task = progress.add_task("starting", total=None)

        def started(step: str) -> None:
            progress.update(task, description=f"{step} ...")

        def finished(step: str, seconds: float, rows: int) -> None:
            if ERR.is_terminal:  # live, above the spinner; logs get the table at the end
                progress.console.print(f"  {step:<24} {seconds:7.2f} s {rows:>12,} rows")

        # a failure is one line (`insightflow history` shows the failed run's steps)
        record = lake.run(source, on_start=started, on_step=finished, **options)  # type: ignore[arg-type]
    steps = run_steps([record])
    steps.wide_hint = "in `insightflow history --wide`"
    emit(steps, Format.table, out=ERR)
    return record


@command()
def generate(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the four CSV files into.")],
    scale: Annotated[float, typer.Option("--scale", help="1 = the reference sizes (~160 K order lines).")] = 1.0,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same bytes.")] = 42,
    dirty: Annotated[float, typer.Option("--dirty", help="Share of rows (0-1) given a real-world defect.")] = 0.0,
    days: Annotated[
        int | None, typer.Option("--days", help="Write N daily full exports into OUT/day-01 … (each day "
                                 "~0.5% new orders, ~1% of lines changed).", show_default=False),
    ] = None,
) -> None:
    """Write a synthetic DataCo-shaped export (optionally with defects and their manifest)."""
    from insightflow.generate import generate as generate_export
    from insightflow.generate import generate_days

    if days is not None:
        series = generate_days(out, days, scale=scale, seed=seed, dirty=dirty)
        for folder, rows in zip(series.folders, series.rows, strict=True):
            OUT.print(f"{str(folder):<60} {rows['orders']:>12,} order lines {rows['deliveries']:>10,} orders")
        OUT.print(f"written in {series.seconds:.1f} s")
        return
    result = generate_export(out, scale=scale, seed=seed, dirty=dirty, progress=sys.stderr.isatty())
    for source, path in result.files.items():
        OUT.print(f"{str(path):<60} {result.rows[source]:>12,} rows")
    if result.manifest:
        OUT.print(f"{result.defects:,} injected defects listed in {result.manifest}")
    OUT.print(f"written in {result.seconds:.1f} s")


@command()
def demo() -> None:
    """Generate scale-1 synthetic data into the lake's inbox, run the pipeline, show the KPIs."""
    lake = lakehouse()
    ERR.print(f"generating a synthetic export into {lake.layout.inbox} ...")
    lake.generate_demo()
    record = _run_live(lake, lake.layout.inbox)
    OUT.print(f"run {record.run_id}: {record.status} in {record.seconds:.2f} s")
    emit(kpi_summary(lake.kpis()), Format.table)
    flag = lake_flag()
    # as invoked (e.g. .venv/bin/insightflow from `make demo`), so the hints can be pasted as they are
    program = sys.argv[0] if "/" in sys.argv[0] and sys.argv[0].endswith("insightflow") else "insightflow"
    OUT.print("\nNext, try:")
    OUT.print(f'  {program} sql "SELECT shipping_mode, count(*) FROM marts.order_summary GROUP BY 1"{flag}')
    OUT.print(f"  {program} dashboard{flag}      # then open http://127.0.0.1:8501")
    OUT.print(f"  {program} quarantine{flag}")
    OUT.print(f"  {program} tables{flag}")
    OUT.print(f"  {program} history{flag}")
    OUT.print(f"  {program} ui{flag}             # the orchestrator (Dagster): http://127.0.0.1:3000")


@command()
def verify(format: FormatOption = Format.table) -> None:
    """Check every published data file and landing copy against its checksum; exit 1 on a problem."""
    report = lakehouse().verify()
    unrecorded = f" ({report.unrecorded:,} written before checksums: size and footer only)" if report.unrecorded else ""
    summary = (f"{report.files:,} data files ({report.bytes / 1e6:,.1f} MB){unrecorded} and {report.landing:,} "
               f"landing copies read: {len(report.problems)} problems")
    emit(Listing([Column("table", whole=True), Column("file"), Column("problem")], report.problems, [summary],
                 data=report.__dict__), format)
    if report.problems:
        raise typer.Exit(1)


@command()
def reset(yes: Annotated[bool, typer.Option("--yes", help="Do not ask first.")] = False) -> None:
    """Start the lake over: delete its tables, landing copies, catalog and history (settings and tokens stay)."""
    lake = lakehouse()
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError(f"reset deletes every table of {lake.layout.root}: add --yes to confirm")
        typer.confirm(f"Delete every table, landing copy and run of {lake.layout.root}?", abort=True)
    removed = lake.reset()
    OUT.print(f"{lake.layout.root} reset: {', '.join(removed) or 'it was empty'} deleted "
              "(insightflow.toml and the API tokens kept)")


@command()
def repair(
    from_backup: Annotated[bool, typer.Option("--from-backup", help="Put back the copy the last published run left (catalog.db.bak).")] = False,
) -> None:
    """Make a missing, emptied or corrupt catalog work again: every table registered from its newest metadata."""
    done, tables = lakehouse().repair(from_backup=from_backup)
    OUT.print(done + (f": {', '.join(tables)}" if tables else ""))


