"""The lake: folders, the Iceberg catalog and the lock."""

from insightflow.lake.catalog import LakeCatalog
from insightflow.lake.layout import LakeLayout
from insightflow.lake.runs import (
    ROLLBACK,
    RUN,
    RunRecord,
    last_built,
    last_published,
    list_runs,
    record_run,
)
from insightflow.lake.tables import SnapshotInfo, TableFiles

__all__ = [
    "LakeCatalog",
    "LakeLayout",
    "ROLLBACK",
    "RUN",
    "RunRecord",
    "SnapshotInfo",
    "TableFiles",
    "last_built",
    "last_published",
    "list_runs",
    "record_run",
]
