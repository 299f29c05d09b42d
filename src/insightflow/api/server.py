"""``insightflow serve``: the API on 127.0.0.1 with uvicorn, over HTTPS when given a certificate."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

from insightflow.api.app import REQUEST_LOG, create_app
from insightflow.api.tokens import tokens_path
from insightflow.errors import UsageError
from insightflow.lakehouse import Lakehouse

DEFAULT_PORT = 8765
#: Seconds a connection may stay open without sending a whole request (half-open and slow-header
#: clients would each hold a connection for ever otherwise; uvicorn times out only idle keep-alives).
REQUEST_HEAD_TIMEOUT = 10.0


def log_config() -> dict:
    """uvicorn's logging, plus the request log (one line per request on stderr).

    uvicorn's own access log is off: it writes the query string, which may hold a secret.
    """
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["request"] = {"format": "%(asctime)s %(message)s", "datefmt": "%Y-%m-%d %H:%M:%S"}
    config["handlers"]["request"] = {"formatter": "request", "class": "logging.StreamHandler",
                                     "stream": "ext://sys.stderr"}
    config["loggers"][REQUEST_LOG.name] = {"handlers": ["request"], "level": "INFO", "propagate": False}
    return config


def guarded_protocol():  # noqa: ANN201 - a uvicorn HTTP protocol class
    """uvicorn's h11 protocol, closing a connection whose first request does not arrive in time."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class GuardedH11Protocol(H11Protocol):
        def connection_made(self, transport) -> None:  # noqa: ANN001
            super().connection_made(transport)
            self._head_timer = self.loop.call_later(REQUEST_HEAD_TIMEOUT, self._close_if_no_request)

        def _close_if_no_request(self) -> None:
            if self.cycle is None and not self.transport.is_closing():
                self.transport.close()

        def connection_lost(self, exc) -> None:  # noqa: ANN001
            self._head_timer.cancel()
            super().connection_lost(exc)

    return GuardedH11Protocol


def serve(lakehouse: Lakehouse, port: int = DEFAULT_PORT, tls: tuple[Path, Path] | None = None) -> None:
    """Serve the API of ``lakehouse`` on 127.0.0.1:``port`` until stopped; ``tls``: (certificate, key)."""
    import uvicorn

    if not 1 <= port <= 65535:
        raise UsageError(f"--port must be 1 to 65535, not {port}")
    scheme = "https" if tls else "http"
    sys.stderr.write(f"InsightFlow API on {scheme}://127.0.0.1:{port} (docs at /docs); "
                     f"tokens in {tokens_path(lakehouse.layout)}; one line per request below\n")
    sys.stderr.flush()
    certificate, key = tls if tls else (None, None)
    uvicorn.run(create_app(lakehouse), host="127.0.0.1", port=port, log_config=log_config(), log_level="warning",
                access_log=False, http=guarded_protocol(),
                ssl_certfile=str(certificate) if certificate else None, ssl_keyfile=str(key) if key else None)
