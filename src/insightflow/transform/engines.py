"""The engines a run can use, by name; each is imported only when asked for."""

from __future__ import annotations

from importlib import import_module
from inspect import signature

from insightflow.errors import UsageError
from insightflow.transform.engine import Engine

#: name -> "module:class" of its adapter.
ENGINES: dict[str, str] = {
    "duckdb": "insightflow.transform.duckdb_engine:DuckDBEngine",
    "spark": "insightflow.transform.spark_engine:SparkEngine",
}


def create_engine(name: str, **options: object) -> Engine:
    """A new engine adapter; ``options`` go to its constructor."""
    try:
        module_name, class_name = ENGINES[name].split(":")
    except KeyError:
        raise UsageError(f"unknown engine {name!r}; choose one of: {', '.join(ENGINES)}") from None
    engine_class = getattr(import_module(module_name), class_name)
    try:  # an option of another engine (e.g. a Spark master for DuckDB) is a usage error
        signature(engine_class).bind(**options)
    except TypeError as error:
        raise UsageError(f"engine {name} does not take these options: {error}") from None
    return engine_class(**options)
