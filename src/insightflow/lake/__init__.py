"""The lake: folders, the Iceberg catalog and the lock."""

from insightflow.lake.catalog import LakeCatalog, SnapshotInfo, TableFiles
from insightflow.lake.layout import LakeLayout
from insightflow.lake.runs import RunRecord, last_successful_run, list_runs, record_run

__all__ = [
    "LakeCatalog",
    "LakeLayout",
    "RunRecord",
    "SnapshotInfo",
    "TableFiles",
    "last_successful_run",
    "list_runs",
    "record_run",
]
