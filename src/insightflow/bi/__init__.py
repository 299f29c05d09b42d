"""The published star schema served over the PostgreSQL protocol, for BI tools (``insightflow bi``)."""

from insightflow.bi.sync import ServingStatus, SyncResult, status, sync

__all__ = ["ServingStatus", "SyncResult", "status", "sync"]
