"""The query layer: sandboxed SQL over published tables (or older snapshots), the KPI catalogue,
access roles and the audit log."""

from insightflow.query.access import Principal, local_user
from insightflow.query.audit import AuditLog
from insightflow.query.catalogue import CATALOGUE, KpiFilters
from insightflow.query.errors import AccessDenied, QueryError, QueryRefused, QueryTimeout
from insightflow.query.kpis import kpi_summary, run_kpi
from insightflow.query.reader import LakeReader, QueryResult, referenced_tables
from insightflow.query.sandbox import Limits
from insightflow.query.service import QueryService

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
