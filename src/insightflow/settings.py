"""Run settings: typed, from environment variables first, then the lake's ``insightflow.toml``.

Secrets (the alert webhook URL, the SMTP password) are read from the environment only, never from
a file. Everything has a default, so a lake works without any setting. Every key of
``<lake>/insightflow.toml`` with its environment variable and meaning is in ``docs/SETTINGS.md``
(``tests/test_settings.py`` keeps the two in step).
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from insightflow.errors import UsageError

DEFAULT_LAKE = "./lakehouse"


def lake_root(lake: str | os.PathLike[str] | None = None) -> Path:
    """The lake folder ``lake`` names, else ``$INSIGHTFLOW_LAKE``, else ``./lakehouse``."""
    return Path(lake or os.environ.get("INSIGHTFLOW_LAKE") or DEFAULT_LAKE).expanduser().resolve()

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
    warehouse: str | None = None
    s3_sse: str | None = None
    s3_sse_kms_key_id: str | None = None
    lock_lease: float = 60.0
    catalog_uri: str | None = None
    catalog_type: str = "sql"
    catalog_warehouse: str | None = None
    catalog_properties: dict = field(default_factory=dict)
    catalog_token: str | None = None
    memory_limit: str = DEFAULT_MEMORY_LIMIT
    tls_cert: str | None = None
    tls_key: str | None = None
    bi_url: str | None = None
    encodings: dict = field(default_factory=dict)
    dagster_postgres_url: str | None = None

    def tls(self, cert: str | os.PathLike[str] | None = None,
            key: str | os.PathLike[str] | None = None) -> tuple[Path, Path] | None:
        """The certificate and key to serve HTTPS with (arguments first, then the settings), or
        None for plain HTTP; both or neither, and both must be readable files."""
        cert, key = cert or self.tls_cert, key or self.tls_key
        if not cert and not key:
            return None
        if not (cert and key):
            raise UsageError("HTTPS needs both a certificate and its key (--tls-cert and --tls-key, "
                             "or [server] tls_cert and tls_key)")
        files = (Path(cert).expanduser(), Path(key).expanduser())
        for path in files:
            if not path.is_file():
                raise UsageError(f"{path}: no such certificate or key file")
        return files

    @property
    def shared(self) -> bool:
        """Whether the lake's data lives outside the lake folder (other machines may share it)."""
        return bool(self.warehouse and "://" in self.warehouse)

    @classmethod
    def load(cls, lake: str | os.PathLike[str] | None = None) -> Settings:
        """The settings of ``lake`` (default: ``$INSIGHTFLOW_LAKE`` or ``./lakehouse``)."""
        root = lake_root(lake)
        file = _read_file(root / SETTINGS_FILE)
        values: dict[str, object] = {"lake": root}
        for name, section, file_key, key in _KEYS:
            raw: object = os.environ.get(f"INSIGHTFLOW_{key}")
            origin = f"$INSIGHTFLOW_{key}"
            if raw is None and file_key in file.get(section, {}):
                raw, origin = file[section][file_key], f"{root / SETTINGS_FILE} [{section}] {file_key}"
            if raw is not None:
                values[name] = _convert(name, raw, origin)
        properties = file.get("catalog", {}).get("properties", {})
        if not isinstance(properties, dict):
            raise UsageError(f"{root / SETTINGS_FILE}: [catalog.properties] must be a table of strings")
        values["catalog_properties"] = {str(k): str(v) for k, v in properties.items()}
        values["encodings"] = _encodings(file.get("encodings", {}), root / SETTINGS_FILE)
        for name, key in _SECRETS:
            if os.environ.get(key):
                values[name] = os.environ[key]
        return cls(**values)  # type: ignore[arg-type]


# (field, section of insightflow.toml, key there, environment variable without INSIGHTFLOW_)
_KEYS = (
    ("retries", "orchestration", "retries", "RETRIES"),
    ("retry_delay", "orchestration", "retry_delay", "RETRY_DELAY"),
    ("schedule", "orchestration", "schedule", "SCHEDULE"),
    ("schedule_enabled", "orchestration", "schedule_enabled", "SCHEDULE_ENABLED"),
    ("sensor_interval", "orchestration", "sensor_interval", "SENSOR_INTERVAL"),
    ("sensor_enabled", "orchestration", "sensor_enabled", "SENSOR_ENABLED"),
    ("report_interval", "orchestration", "report_interval", "REPORT_INTERVAL"),
    ("ui_url", "orchestration", "ui_url", "UI_URL"),
    ("alert_on_success", "alerts", "on_success", "ALERT_ON_SUCCESS"),
    ("email_to", "alerts", "email_to", "ALERT_EMAIL_TO"),
    ("email_from", "alerts", "email_from", "ALERT_EMAIL_FROM"),
    ("smtp_host", "alerts", "smtp_host", "SMTP_HOST"),
    ("smtp_port", "alerts", "smtp_port", "SMTP_PORT"),
    ("smtp_starttls", "alerts", "smtp_starttls", "SMTP_STARTTLS"),
    ("smtp_user", "alerts", "smtp_user", "SMTP_USER"),
    ("keep_snapshots", "lake", "keep_snapshots", "KEEP_SNAPSHOTS"),
    ("warehouse", "lake", "warehouse", "WAREHOUSE"),
    ("s3_sse", "lake", "s3_sse", "S3_SSE"),
    ("s3_sse_kms_key_id", "lake", "s3_sse_kms_key_id", "S3_SSE_KMS_KEY_ID"),
    ("lock_lease", "lake", "lock_lease", "LOCK_LEASE"),
    ("catalog_uri", "catalog", "uri", "CATALOG_URI"),
    ("catalog_type", "catalog", "type", "CATALOG_TYPE"),
    ("catalog_warehouse", "catalog", "warehouse", "CATALOG_WAREHOUSE"),
    ("memory_limit", "engine", "memory_limit", "MEMORY_LIMIT"),
    ("tls_cert", "server", "tls_cert", "TLS_CERT"),
    ("tls_key", "server", "tls_key", "TLS_KEY"),
    ("bi_url", "bi", "url", "BI_URL"),
)
_SECRETS = (("alert_webhook", "INSIGHTFLOW_ALERT_WEBHOOK"), ("smtp_password", "INSIGHTFLOW_SMTP_PASSWORD"),
            ("catalog_token", "INSIGHTFLOW_CATALOG_TOKEN"),
            ("dagster_postgres_url", "INSIGHTFLOW_DAGSTER_POSTGRES_URL"))
_TYPES = {f.name: f.type for f in fields(Settings)}


def _encodings(table: object, origin: Path) -> dict[str, str]:
    from insightflow.contracts import load_contracts
    from insightflow.crawl.crawler import normalized_encoding

    if not isinstance(table, dict):
        raise UsageError(f"{origin}: [encodings] must be a table of source = encoding")
    sources = {*load_contracts(), "*"}
    unknown = sorted(set(table) - sources)
    if unknown:
        raise UsageError(f"{origin}: [encodings] has {', '.join(unknown)}; the sources are {', '.join(sorted(sources))}")
    return {str(k): normalized_encoding(str(v)) for k, v in table.items()}


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


_PASSWORD_IN_URL = re.compile(r"://[^/@:]+:[^/@]+@")
_MEMORY = re.compile(r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)", re.IGNORECASE)


#: Values a setting may take, where they are few.
_CHOICES = {"catalog_type": ("sql", "rest", "glue"), "s3_sse": ("AES256", "aws:kms")}


def _convert(name: str, raw: object, origin: str) -> object:
    kind = _TYPES[name]
    if name == "memory_limit" and not _MEMORY.fullmatch(str(raw).strip()):
        raise UsageError(f"{origin}: {raw!r} is not a memory size for memory_limit (e.g. 3GB, 512MB)")
    if name in _CHOICES and str(raw) not in _CHOICES[name]:
        raise UsageError(f"{origin}: {name} is one of {', '.join(_CHOICES[name])}, not {raw!r}")
    if name in ("catalog_uri", "bi_url") and _PASSWORD_IN_URL.search(str(raw)) and not origin.startswith("$"):
        what = "catalog" if name == "catalog_uri" else "serving database"
        raise UsageError(f"{origin}: the {what}'s password comes from the environment (PGPASSWORD), "
                         "not from this file")
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
