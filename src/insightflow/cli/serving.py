"""Commands that serve the lake: the API, the dashboard, the orchestrator's UI, API tokens and
the BI database."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from insightflow.cli.base import (
    FormatOption,
    Role,
    TlsCertOption,
    TlsKeyOption,
    bi_app,
    command,
    lakehouse,
    token_app,
)
from insightflow.cli.render import ERR, OUT, Column, Format, Listing, emit

PortOption = Annotated[int, typer.Option("--port", help="Port on 127.0.0.1.")]


@command()
def serve(port: PortOption = 8765, tls_cert: TlsCertOption = None, tls_key: TlsKeyOption = None) -> None:
    """Serve the HTTP API (KPIs, SQL, runs, metrics) on 127.0.0.1 with bearer tokens."""
    from insightflow.api import serve as serve_api

    lake = lakehouse()
    serve_api(lake, port, lake.catalog.settings.tls(tls_cert, tls_key))


@command()
def dashboard(port: PortOption = 8501, tls_cert: TlsCertOption = None, tls_key: TlsKeyOption = None) -> None:
    """Serve the dashboard (Streamlit) on 127.0.0.1: KPI cards, charts, filters, drill-down."""
    from insightflow.dashboard import serve as serve_dashboard

    lake = lakehouse()
    serve_dashboard(lake.layout.root, port, lake.catalog.settings.tls(tls_cert, tls_key))


@command()
def ui(
    port: PortOption = 3000,
    # checked by the UI (importing its module here would import Dagster for every command)
    log_level: Annotated[str, typer.Option("--log-level", metavar="LEVEL",
                                           help="Dagster's log level: critical, error, warning, info, debug.")] = "warning",
) -> None:
    """Serve the orchestrator's UI (Dagster: assets, runs, schedule, inbox sensor) on 127.0.0.1."""
    from insightflow.orchestration.ui import serve as serve_ui

    serve_ui(lakehouse().layout.root, port, log_level=log_level)


@command(token_app, "add")
def token_add(
    name: Annotated[str, typer.Argument(help="Who holds the token.")],
    role: Annotated[Role, typer.Option("--role", help="viewer (KPIs), analyst (+ SQL), admin (+ runs).")] = Role.viewer,  # type: ignore[attr-defined]
    pii: Annotated[bool, typer.Option("--pii", help="May see customer names, cities and zip codes.")] = False,
) -> None:
    """Create a token for NAME and print it once."""
    from insightflow.api import TokenStore, tokens_path

    path = tokens_path(lakehouse().layout)
    token = TokenStore(path).add(name, role.value, pii)
    ERR.print(f"token for {name} ({role.value}{', pii' if pii else ''}) added to {path}; it is shown only now:")
    sys.stdout.write(token + "\n")


@command(token_app, "list")
def token_list(format: FormatOption = Format.table) -> None:
    """Who holds a token: name, role and the PII grant (the tokens themselves are not stored)."""
    from insightflow.api import TokenStore, tokens_path

    path = tokens_path(lakehouse().layout)
    principals = TokenStore(path).list()
    columns = [Column("name", whole=True), Column("role"), Column("pii", text=lambda v: "yes" if v else "no")]
    emit(Listing(columns, [vars(p) for p in principals], [f"{len(principals)} tokens in {path}"]), format)


@command(token_app, "revoke")
def token_revoke(name: Annotated[str, typer.Argument(help="Whose token to remove.")]) -> None:
    """Remove NAME's token: the API refuses it from the next request on."""
    from insightflow.api import TokenStore, tokens_path

    path = tokens_path(lakehouse().layout)
    TokenStore(path).revoke(name)
    OUT.print(f"token of {name} revoked ({path})")


@command(bi_app, "sync")
def bi_sync(
    full: Annotated[bool, typer.Option("--full", help="Rebuild every served table, not only what changed.")] = False,
) -> None:
    """Serve the lake's published run in the BI database (only what changed since the served run)."""
    result = lakehouse().bi_sync(full=full)
    OUT.print(f"BI database {result.describe()}")


@command(bi_app, "status")
def bi_status(
    check: Annotated[bool, typer.Option("--check", help="Exit 1 when the database is behind the lake.")] = False,
    format: FormatOption = Format.table,
) -> None:
    """Which run the BI database serves, and whether the lake has published a newer one."""
    state = lakehouse().bi_status()
    if format is Format.table:
        served = (f"run {state.served_run} ({state.mode} sync at {state.synced_at:%Y-%m-%d %H:%M:%S %Z})"
                  if state.served_run else "nothing yet")
        OUT.print(f"BI database {state.target} serves {served}; the lake's published run is "
                  f"{state.published_run or 'none yet'}" + (": behind, `insightflow bi sync` catches up"
                                                           if state.behind else ": current"))
    else:
        record = state.__dict__ | {"behind": state.behind}
        emit(Listing([Column(key) for key in record], [record], data=record), format)
    if check and state.behind:
        raise typer.Exit(1)
