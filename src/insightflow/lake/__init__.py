"""The lake: folders, the Iceberg catalog and the lock."""

from insightflow.lake.catalog import LakeCatalog, SnapshotInfo, TableFiles
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
