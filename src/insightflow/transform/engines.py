"""The engines a run can use, by name; each is imported only when asked for."""

from __future__ import annotations

from importlib import import_module

from insightflow.errors import UsageError
from insightflow.transform.engine import Engine

#: name -> "module:class" of its adapter.
ENGINES: dict[str, str] = {
    "duckdb": "insightflow.transform.duckdb_engine:DuckDBEngine",
}


def create_engine(name: str, **options: object) -> Engine:
    """A new engine adapter; ``options`` go to its constructor."""
    try:
        module_name, class_name = ENGINES[name].split(":")
    except KeyError:
        raise UsageError(f"unknown engine {name!r}; choose one of: {', '.join(ENGINES)}") from None
    engine_class = getattr(import_module(module_name), class_name)
    return engine_class(**options)
