"""Transform: SQL models run by an engine, checked, and published."""

from insightflow.transform.duckdb_engine import DuckDBEngine
from insightflow.transform.engine import BuildResult, Engine
from insightflow.transform.models import Model, load_models
from insightflow.transform.runner import TransformResult, build_all, publish

__all__ = [
    "BuildResult",
    "DuckDBEngine",
    "Engine",
    "Model",
    "TransformResult",
    "build_all",
    "load_models",
    "publish",
]
