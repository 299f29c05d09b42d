"""``insightflow serve``: the API on 127.0.0.1 with uvicorn, over HTTPS when given a certificate."""

from __future__ import annotations

import sys
from pathlib import Path

from insightflow.api.app import create_app
from insightflow.api.tokens import tokens_path
from insightflow.errors import UsageError
from insightflow.pipeline import Lakehouse

DEFAULT_PORT = 8765


def serve(lakehouse: Lakehouse, port: int = DEFAULT_PORT, tls: tuple[Path, Path] | None = None) -> None:
    """Serve the API of ``lakehouse`` on 127.0.0.1:``port`` until stopped; ``tls``: (certificate, key)."""
    import uvicorn

    if not 1 <= port <= 65535:
        raise UsageError(f"--port must be 1 to 65535, not {port}")
    scheme = "https" if tls else "http"
    sys.stderr.write(f"InsightFlow API on {scheme}://127.0.0.1:{port} (docs at /docs); "
                     f"tokens in {tokens_path(lakehouse.layout)}\n")
    sys.stderr.flush()
    certificate, key = tls if tls else (None, None)
    uvicorn.run(create_app(lakehouse), host="127.0.0.1", port=port, log_level="warning",
                ssl_certfile=str(certificate) if certificate else None, ssl_keyfile=str(key) if key else None)
