"""Transform: SQL models run by an engine, maintained incrementally, checked, and published."""

from insightflow.transform.duckdb_engine import DuckDBEngine
from insightflow.transform.engine import BuildResult, Engine
from insightflow.transform.models import Model, load_models
from insightflow.transform.runner import build_model, publish

__all__ = [
    "BuildResult",
    "DuckDBEngine",
    "Engine",
    "Model",
    "build_model",
    "load_models",
    "publish",
]
