"""The dashboard: the original's Tableau dashboard as a Streamlit app over the KPI catalogue.

``insightflow dashboard`` calls ``serve``, which hands over to ``streamlit run`` of ``app.py``
on 127.0.0.1; the app finds the lake through ``$INSIGHTFLOW_LAKE``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP = Path(__file__).with_name("app.py")
DEFAULT_PORT = 8501


def command(port: int = DEFAULT_PORT, tls: tuple[Path, Path] | None = None) -> list[str]:
    """The ``streamlit run`` command line: loopback only, headless, no usage statistics; over
    HTTPS with ``tls`` (certificate, key)."""
    https = ["--server.sslCertFile", str(tls[0]), "--server.sslKeyFile", str(tls[1])] if tls else []
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.address", "127.0.0.1",
        "--server.port", str(port),
        "--server.headless", "true",
        "--server.fileWatcherType", "none",
        "--server.runOnSave", "false",
        "--browser.gatherUsageStats", "false",
        "--global.developmentMode", "false",
        "--client.toolbarMode", "minimal",
        "--theme.base", "light",
        *https,
    ]


def serve(lake_root: Path, port: int = DEFAULT_PORT, tls: tuple[Path, Path] | None = None) -> None:
    """Replace this process with the Streamlit server of the dashboard for the lake at ``lake_root``."""
    from insightflow.errors import UsageError

    if not 1 <= port <= 65535:
        raise UsageError(f"--port must be 1 to 65535, not {port}")
    try:
        import plotly  # noqa: F401
        import streamlit  # noqa: F401
    except ImportError as error:
        raise UsageError(f"the dashboard needs {error.name}: pip install streamlit plotly") from None
    env = {**os.environ, "INSIGHTFLOW_LAKE": str(lake_root)}
    scheme = "https" if tls else "http"
    sys.stderr.write(f"InsightFlow dashboard on {scheme}://127.0.0.1:{port} for the lake at {lake_root}\n")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, command(port, tls), env)
