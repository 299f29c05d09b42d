"""The HTTP API of the query layer (FastAPI): KPIs, sandboxed SQL and runs, with roles and audit."""

from insightflow.api.app import create_app
from insightflow.api.server import serve
from insightflow.api.tokens import TokenStore, tokens_path

__all__ = ["TokenStore", "create_app", "serve", "tokens_path"]
