"""What every command shares: the Typer app and its groups, and the options given once here.

``--lake`` and ``--debug`` belong to every command (``insightflow tables --lake L``, as scripts
write it), so ``command`` adds them to each: a command's own signature holds only its own options
and asks ``lakehouse()`` for the lake. ``--debug`` is parsed like any option; ``main`` reads what it
said when an error reaches it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from insightflow.cli.render import Format
from insightflow.lakehouse import Lakehouse
from insightflow.query.access import ROLES
from insightflow.transform.engine import ENGINES

app = typer.Typer(
    help="InsightFlow: supply-chain CSV exports to an Iceberg star schema, KPIs and a dashboard.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
token_app = typer.Typer(help="API tokens (only their sha256 is stored).", no_args_is_help=True)
app.add_typer(token_app, name="token")
bi_app = typer.Typer(help="The serving database for BI tools (PostgreSQL protocol: [bi] url, $INSIGHTFLOW_BI_URL).",
                     no_args_is_help=True)
app.add_typer(bi_app, name="bi")


@dataclass
class Invocation:
    """What the common options of the running command said."""

    lake: Path | None = None
    debug: bool = False


INVOCATION = Invocation()

_COMMON = [
    inspect.Parameter("lake", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[
        Path | None,
        typer.Option("--lake", help="Lake folder [default: $INSIGHTFLOW_LAKE or ./lakehouse].", show_default=False),
    ]),
    inspect.Parameter("debug", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=Annotated[
        bool, typer.Option("--debug", help="Show tracebacks of errors."),
    ]),
]


def command(group: typer.Typer = app, name: str | None = None) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register a command on ``group`` with the common options ``--lake`` and ``--debug`` added."""

    def register(function: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(function)
        def with_common_options(*args: Any, lake: Path | None = None, debug: bool = False, **kwargs: Any) -> None:
            INVOCATION.lake, INVOCATION.debug = lake, debug
            function(*args, **kwargs)

        own = inspect.signature(function, eval_str=True)
        parameters = [*own.parameters.values(), *_COMMON]
        with_common_options.__signature__ = own.replace(parameters=parameters)  # type: ignore[attr-defined]
        with_common_options.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": None}
        group.command(name)(with_common_options)
        return function

    return register


def lakehouse() -> Lakehouse:
    """The lake the command was given (``--lake``, else ``$INSIGHTFLOW_LAKE`` or ``./lakehouse``)."""
    return Lakehouse(INVOCATION.lake)


def lake_flag() -> str:
    """`` --lake L`` as the user gave it, for hints to paste (else nothing)."""
    return f" --lake {INVOCATION.lake}" if INVOCATION.lake else ""


# Choices derived from the registries they name, so a new engine or role is offered at once.
EngineName = Enum("EngineName", {name: name for name in ENGINES}, type=str)  # type: ignore[misc]
Role = Enum("Role", {name: name for name in ROLES}, type=str)  # type: ignore[misc]

FormatOption = Annotated[Format, typer.Option("--format", help="Output format: table, json or csv.")]
WideOption = Annotated[bool, typer.Option("--wide", help="Show every column in a table (JSON and CSV hold them all).")]
EncodingOption = Annotated[
    str | None,
    typer.Option("--encoding", metavar="NAME", show_default=False,
                 help="The files' encoding (utf-8, utf-16, cp1252, latin-1 …) [default: detected, or [encodings]]."),
]
TlsCertOption = Annotated[
    Path | None, typer.Option("--tls-cert", help="Serve HTTPS with this certificate (PEM) [default: [server] tls_cert].",
                              show_default=False)]
TlsKeyOption = Annotated[
    Path | None, typer.Option("--tls-key", help="The certificate's private key (PEM) [default: [server] tls_key].",
                              show_default=False)]
