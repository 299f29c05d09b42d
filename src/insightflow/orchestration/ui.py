"""``insightflow ui``: the Dagster UI (webserver + daemon for the schedule and sensor) of a lake.

Runs ``dagster dev`` on 127.0.0.1 with ``DAGSTER_HOME`` set to the lake's instance, so the runs of
``insightflow run`` are in its history, and ``INSIGHTFLOW_LAKE`` set to the lake, so
``insightflow.definitions`` describes this lake. It says when it starts and when the UI answers
(booting takes about 20 s), keeps Dagster's services at WARNING (no line per sensor tick), and on
Ctrl-C or SIGTERM stops the whole process tree: ``dagster dev``, its webserver, daemon and code
servers (``dagster api grpc``), and any run they were executing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

from insightflow.errors import InsightFlowError, UsageError
from insightflow.lake import LakeLayout
from insightflow.orchestration.instance import prepare_home

DEFAULT_PORT = 3000
#: Dagster's log levels; its INFO writes two lines per sensor tick.
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
#: Seconds to wait for the UI to answer, and for ``dagster dev`` to stop its services (it waits up
#: to 60 s for each, then kills it) before the process group is killed.
BOOT_TIMEOUT = 300.0
STOP_GRACE = 20.0
# `dagster dev` warns on every start that `dg dev` supersedes it (dg is another package).
_QUIET_WARNINGS = "ignore:Function `dev_command` is superseded"


def command(port: int = DEFAULT_PORT, log_level: str = "warning") -> list[str]:
    """The ``dagster dev`` command line: loopback only, the definitions module of the package."""
    return [sys.executable, "-m", "dagster", "dev", "-m", "insightflow.definitions",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", log_level,
            "--code-server-log-level", log_level]


def environment(lake_root: Path) -> dict[str, str]:
    home = prepare_home(LakeLayout(lake_root))
    warnings = ",".join(w for w in (os.environ.get("PYTHONWARNINGS"), _QUIET_WARNINGS) if w)
    return {**os.environ, "DAGSTER_HOME": str(home), "INSIGHTFLOW_LAKE": str(lake_root),
            "DAGSTER_DISABLE_TELEMETRY": "yes", "PYTHONWARNINGS": warnings}


def serve(lake_root: Path, port: int = DEFAULT_PORT, log_level: str = "warning") -> None:
    """Run the Dagster UI of the lake at ``lake_root`` on 127.0.0.1:``port`` until Ctrl-C or SIGTERM."""
    if not 1 <= port <= 65535:
        raise UsageError(f"--port must be 1 to 65535, not {port}")
    if log_level not in LOG_LEVELS:
        raise UsageError(f"the log level must be one of {', '.join(LOG_LEVELS)}, not {log_level!r}")
    _require_free(port)
    env = environment(lake_root)
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    _say(f"InsightFlow orchestration UI (Dagster) for the lake at {lake_root}: starting… (about 20 s)")
    with _stop_signals() as stop:
        # A session of its own: Ctrl-C reaches this process only, which stops the tree in order.
        process = subprocess.Popen(command(port, log_level), env=env, start_new_session=True,
                                   preexec_fn=_parent_death_signal())
        try:
            ready = False
            while process.poll() is None and not stop:
                if not ready and _answers(url):
                    ready = True
                    _say(f"InsightFlow orchestration UI ready at {url} ({time.monotonic() - started:.1f} s); "
                         "Ctrl-C stops it")
                elif not ready and time.monotonic() - started > BOOT_TIMEOUT:
                    raise InsightFlowError(f"the Dagster UI did not answer on {url} within {BOOT_TIMEOUT:.0f} s")
                time.sleep(0.25)
        finally:
            stop_tree(process)
    if not stop:
        raise InsightFlowError(f"the Dagster UI stopped by itself (exit code {process.returncode}); "
                               "its messages are above")
    _say("InsightFlow orchestration UI stopped")


def stop_tree(process: subprocess.Popen) -> None:
    """Stop ``process`` (the leader of its own process group) and everything left in its group."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # `dagster dev`: a KeyboardInterrupt; it stops its services
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(STOP_GRACE)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not group_members(process.pid):
            break
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        deadline = time.monotonic() + 5
        while group_members(process.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
    process.wait()


def group_members(group: int) -> list[int]:
    """The live processes of process group ``group`` (zombies, already dead, excluded)."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(group, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [group]
    members = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # the command name may hold spaces and ")"
        if fields[0] != "Z" and int(fields[2]) == group:
            members.append(int(entry.name))
    return members


class _Stop:
    """Which stop signal arrived (falsy until one does)."""

    signal: int | None = None

    def __bool__(self) -> bool:
        return self.signal is not None


@contextlib.contextmanager
def _stop_signals() -> Iterator[_Stop]:
    """Record SIGINT and SIGTERM instead of dying of them, for the duration of the block.

    Caught signals are reset to their defaults in the child at exec, so ``dagster dev`` handles
    them even when this process was started with SIGINT ignored (``nohup``, ``cmd &`` in a script),
    where it would otherwise ignore SIGTERM too (Dagster maps SIGTERM to SIGINT's handler).
    """
    stop = _Stop()

    def record(signum: int, frame: object) -> None:
        stop.signal = signum

    previous = {s: signal.signal(s, record) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _parent_death_signal() -> Callable[[], None] | None:
    """For the child, before exec: a SIGTERM when this process dies, even of SIGKILL (Linux only)."""
    if sys.platform != "linux":
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here: the child only calls it
    pr_set_pdeathsig = 1
    return lambda: prctl(pr_set_pdeathsig, int(signal.SIGTERM))


def _require_free(port: int) -> None:
    with socket.socket() as probe:
        # as the webserver binds: a port with connections in TIME_WAIT only is free
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise UsageError(f"port {port} on 127.0.0.1 is in use: choose another with --port") from None


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through $http_proxy


def _answers(url: str) -> bool:
    try:
        with _DIRECT.open(f"{url}/server_info", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
