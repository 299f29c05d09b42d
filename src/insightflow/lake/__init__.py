"""The lake: folders, the Iceberg catalog and the lock."""

from insightflow.lake.catalog import LakeCatalog, SnapshotInfo, TableFiles
from insightflow.lake.layout import LakeLayout

__all__ = ["LakeCatalog", "LakeLayout", "SnapshotInfo", "TableFiles"]
