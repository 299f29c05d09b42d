"""Run settings: typed, from environment variables first, then the lake's ``insightflow.toml``.

Secrets (the alert webhook URL, the SMTP password) are read from the environment only, never from
a file. Everything has a default, so a lake works without any setting::

    # <lake>/insightflow.toml
    [orchestration]
    retries = 3              # INSIGHTFLOW_RETRIES: attempts after the first, for transient errors
    retry_delay = 1.0        # INSIGHTFLOW_RETRY_DELAY: seconds before the first retry, doubling
    schedule = "0 6 * * *"   # INSIGHTFLOW_SCHEDULE: cron of the daily run
    schedule_enabled = false # INSIGHTFLOW_SCHEDULE_ENABLED: the schedule is off until turned on
    sensor_interval = 30     # INSIGHTFLOW_SENSOR_INTERVAL: seconds between two looks at the inbox
    sensor_enabled = true    # INSIGHTFLOW_SENSOR_ENABLED
    report_interval = 30     # INSIGHTFLOW_REPORT_INTERVAL: seconds between two looks at ops.runs for
                             # runs done outside the orchestrator (shown in its UI)
    ui_url = "http://127.0.0.1:3000"   # INSIGHTFLOW_UI_URL: base of the run links in alerts

    [alerts]
    on_success = false       # INSIGHTFLOW_ALERT_ON_SUCCESS
    email_to = "ops@example.com"       # INSIGHTFLOW_ALERT_EMAIL_TO (comma-separated)
    email_from = "insightflow@example.com"  # INSIGHTFLOW_ALERT_EMAIL_FROM
    smtp_host = "smtp.example.com"     # INSIGHTFLOW_SMTP_HOST
    smtp_port = 587                    # INSIGHTFLOW_SMTP_PORT
    smtp_starttls = true               # INSIGHTFLOW_SMTP_STARTTLS
    smtp_user = "insightflow"          # INSIGHTFLOW_SMTP_USER

    # environment only: INSIGHTFLOW_ALERT_WEBHOOK (Slack-compatible URL), INSIGHTFLOW_SMTP_PASSWORD

    [lake]
    keep_snapshots = 20      # INSIGHTFLOW_KEEP_SNAPSHOTS: snapshots kept per table (0: all); older
                             # ones expire (in batches) with their files: `--as-of` reaches that far

    [engine]
    memory_limit = "3GB"     # INSIGHTFLOW_MEMORY_LIMIT: the engine's memory bound (DuckDB's
                             # memory_limit, Spark's driver memory in local mode); beyond it the
                             # engine spills to <lake>/tmp
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

from insightflow.errors import UsageError
from insightflow.lake.layout import LakeLayout

SETTINGS_FILE = "insightflow.toml"
#: Keeps a run of 100x the reference export (16 M order lines) under 4 GB of memory in all.
DEFAULT_MEMORY_LIMIT = "3GB"


@dataclass(frozen=True)
class Settings:
    """Everything a run, its triggers and its alerts can be configured with."""

    lake: Path
    retries: int = 3
    retry_delay: float = 1.0
    schedule: str = "0 6 * * *"
    schedule_enabled: bool = False
    sensor_interval: int = 30
    sensor_enabled: bool = True
    report_interval: int = 30
    ui_url: str = "http://127.0.0.1:3000"
    alert_on_success: bool = False
    alert_webhook: str | None = None
    email_to: tuple[str, ...] = ()
    email_from: str = "insightflow@localhost"
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_starttls: bool = True
    smtp_user: str | None = None
    smtp_password: str | None = None
    keep_snapshots: int = 20
    memory_limit: str = DEFAULT_MEMORY_LIMIT

    @classmethod
    def load(cls, lake: str | os.PathLike[str] | None = None) -> Settings:
        """The settings of ``lake`` (default: ``$INSIGHTFLOW_LAKE`` or ``./lakehouse``)."""
        root = LakeLayout.resolve(lake).root
        file = _read_file(root / SETTINGS_FILE)
        values: dict[str, object] = {"lake": root}
        for name, section, key in _KEYS:
            raw: object = os.environ.get(f"INSIGHTFLOW_{key}")
            origin = f"$INSIGHTFLOW_{key}"
            file_key = name.removeprefix("alert_")
            if raw is None and file_key in file.get(section, {}):
                raw, origin = file[section][file_key], f"{root / SETTINGS_FILE} [{section}] {file_key}"
            if raw is not None:
                values[name] = _convert(name, raw, origin)
        for name, key in _SECRETS:
            if os.environ.get(key):
                values[name] = os.environ[key]
        return cls(**values)  # type: ignore[arg-type]


# (field, section of insightflow.toml, environment variable without INSIGHTFLOW_); the key in the
# file is the field's name without its ``alert_`` prefix.
_KEYS = (
    ("retries", "orchestration", "RETRIES"),
    ("retry_delay", "orchestration", "RETRY_DELAY"),
    ("schedule", "orchestration", "SCHEDULE"),
    ("schedule_enabled", "orchestration", "SCHEDULE_ENABLED"),
    ("sensor_interval", "orchestration", "SENSOR_INTERVAL"),
    ("sensor_enabled", "orchestration", "SENSOR_ENABLED"),
    ("report_interval", "orchestration", "REPORT_INTERVAL"),
    ("ui_url", "orchestration", "UI_URL"),
    ("alert_on_success", "alerts", "ALERT_ON_SUCCESS"),
    ("email_to", "alerts", "ALERT_EMAIL_TO"),
    ("email_from", "alerts", "ALERT_EMAIL_FROM"),
    ("smtp_host", "alerts", "SMTP_HOST"),
    ("smtp_port", "alerts", "SMTP_PORT"),
    ("smtp_starttls", "alerts", "SMTP_STARTTLS"),
    ("smtp_user", "alerts", "SMTP_USER"),
    ("keep_snapshots", "lake", "KEEP_SNAPSHOTS"),
    ("memory_limit", "engine", "MEMORY_LIMIT"),
)
_SECRETS = (("alert_webhook", "INSIGHTFLOW_ALERT_WEBHOOK"), ("smtp_password", "INSIGHTFLOW_SMTP_PASSWORD"))
_TYPES = {f.name: f.type for f in fields(Settings)}


def _read_file(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise UsageError(f"{path}: not valid TOML ({error})") from None
    secrets = {"webhook", "alert_webhook", "smtp_password", "password"} & set(data.get("alerts", {}))
    if secrets:
        raise UsageError(f"{path}: secrets come from environment variables only, not from this file "
                         f"({', '.join(sorted(secrets))}: see INSIGHTFLOW_ALERT_WEBHOOK, INSIGHTFLOW_SMTP_PASSWORD)")
    return data


_MEMORY = re.compile(r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)", re.IGNORECASE)


def _convert(name: str, raw: object, origin: str) -> object:
    kind = _TYPES[name]
    if name == "memory_limit" and not _MEMORY.fullmatch(str(raw).strip()):
        raise UsageError(f"{origin}: {raw!r} is not a memory size for memory_limit (e.g. 3GB, 512MB)")
    try:
        if kind == "bool":
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text not in {"1", "true", "yes", "on", "0", "false", "no", "off"}:
                raise ValueError
            return text in {"1", "true", "yes", "on"}
        if kind == "int":
            value = int(raw)  # type: ignore[call-overload]
            if value < 0:
                raise ValueError
            return value
        if kind == "float":
            value = float(raw)  # type: ignore[arg-type]
            if value < 0:
                raise ValueError
            return value
        if kind == "tuple[str, ...]":
            items = raw if isinstance(raw, list) else str(raw).split(",")
            return tuple(str(i).strip() for i in items if str(i).strip())
        return str(raw) or None
    except (TypeError, ValueError):
        raise UsageError(f"{origin}: {raw!r} is not a valid {kind.replace('tuple[str, ...]', 'list')} for {name}") from None
