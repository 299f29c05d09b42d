"""The query layer: sandboxed SQL over published tables (or older snapshots), the KPI catalogue,
access roles and the audit log.

Its names are imported on first use (PEP 562): a command that only needs ``access.ROLES`` does not
pay for the reader's imports (pyarrow.compute, sqlglot, ~50 ms)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from insightflow.query.access import Principal, local_user
    from insightflow.query.audit import AuditLog
    from insightflow.query.catalogue import CATALOGUE, KpiFilters
    from insightflow.query.errors import AccessDenied, QueryError, QueryRefused, QueryTimeout
    from insightflow.query.kpis import kpi_summary, run_kpi
    from insightflow.query.reader import LakeReader, QueryResult, referenced_tables
    from insightflow.query.sandbox import Limits
    from insightflow.query.service import QueryService

#: Where each name of the package lives.
_MODULES = {
    "Principal": "access", "local_user": "access",
    "AuditLog": "audit",
    "CATALOGUE": "catalogue", "KpiFilters": "catalogue",
    "AccessDenied": "errors", "QueryError": "errors", "QueryRefused": "errors", "QueryTimeout": "errors",
    "kpi_summary": "kpis", "run_kpi": "kpis",
    "LakeReader": "reader", "QueryResult": "reader", "referenced_tables": "reader",
    "Limits": "sandbox",
    "QueryService": "service",
}

__all__ = [
    "CATALOGUE",
    "AccessDenied",
    "AuditLog",
    "KpiFilters",
    "LakeReader",
    "Limits",
    "Principal",
    "QueryError",
    "QueryRefused",
    "QueryResult",
    "QueryService",
    "QueryTimeout",
    "kpi_summary",
    "local_user",
    "referenced_tables",
    "run_kpi",
]


def __getattr__(name: str) -> object:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # looked up once
    return value
