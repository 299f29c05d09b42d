"""The query layer: read published tables (or older snapshots) and compute KPIs."""

from insightflow.query.kpis import KPI_KEYS, kpi_summary
from insightflow.query.reader import LakeReader, QueryError, referenced_tables

__all__ = ["KPI_KEYS", "LakeReader", "QueryError", "kpi_summary", "referenced_tables"]
