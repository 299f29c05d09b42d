"""The ``insightflow`` command: a thin layer that parses arguments and calls the Python API.

Commands live by what they do (``running``, ``reading``, ``serving``); each parses its options and
calls one ``Lakehouse`` method, and ``render`` shows the answer. Errors are printed on one line to
stderr with a non-zero exit code; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import gc
import sys
from typing import Annotated

import typer

# The commands register in the order `insightflow --help` lists them.
# isort: off
from insightflow.cli import running  # noqa: F401
from insightflow.cli import reading  # noqa: F401
from insightflow.cli import serving  # noqa: F401
# isort: on
from insightflow.cli.base import INVOCATION, app
from insightflow.console import visible
from insightflow.errors import InsightFlowError

__all__ = ["app", "main"]


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


def main() -> None:
    """Entry point: run the command; turn errors into one line on stderr and an exit code."""
    try:
        app()  # Typer reports usage errors itself (exit code 2) and exits
    except InsightFlowError as error:
        if INVOCATION.debug:
            raise
        _fail(str(error), error.exit_code)
    except Exception as error:  # a bug: still one line, unless --debug
        if INVOCATION.debug:
            raise
        _fail(f"unexpected {type(error).__name__}: {error} (run with --debug for the traceback)", 70)
    finally:
        # The command is done. Leaving, the interpreter would search every object left for
        # reference cycles, module by module: ~0.4 s after a run (PyIceberg's, SQLAlchemy's and
        # pandas' modules), more than a step. Frozen objects are not searched; the ones that
        # hold files or connections were closed by the command.
        gc.freeze()


def _fail(message: str, code: int) -> None:
    sys.stderr.write("insightflow: error: " + visible(" ".join(message.split())) + "\n")
    sys.exit(code)
