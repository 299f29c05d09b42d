"""Which Iceberg catalog a lake uses, opened from its settings.

PyIceberg's SQL catalog on the lake folder's SQLite file (the default) or on PostgreSQL
(``[catalog] uri``), an Iceberg REST catalog (``[catalog] type = "rest"``) or AWS Glue's Data
Catalog (``type = "glue"``); each gets the lake's warehouse and, on an object store, its
properties. A lake folder's own catalog is checked first (``insightflow.lake.repair``) and follows
the folder when it was copied or moved (``insightflow.lake.relocate``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from insightflow.errors import UsageError
from insightflow.lake.repair import check_catalog

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

    from insightflow.lake.layout import LakeLayout
    from insightflow.lake.storage import LakeStorage
    from insightflow.settings import Settings


def open_catalog(settings: Settings, storage: LakeStorage, layout: LakeLayout) -> Catalog:
    """The PyIceberg catalog ``settings`` choose, over the files of ``storage``."""
    properties = {**storage.s3.iceberg_properties(), **settings.catalog_properties} if storage.remote \
        else dict(settings.catalog_properties)
    if settings.catalog_type == "glue":  # AWS Glue's Data Catalog, as Athena and Glue jobs read it
        from pyiceberg.catalog import load_catalog

        if storage.s3.region:
            properties.setdefault("glue.region", storage.s3.region)
        return load_catalog("insightflow", type="glue", warehouse=storage.uri(storage.warehouse), **properties)
    if settings.catalog_type == "rest":
        from pyiceberg.catalog import load_catalog

        if not settings.catalog_uri:
            raise UsageError("a REST catalog needs its URL: [catalog] uri or INSIGHTFLOW_CATALOG_URI")
        if settings.catalog_token:
            properties["token"] = settings.catalog_token
        return load_catalog("insightflow", type="rest", uri=settings.catalog_uri,
                            warehouse=settings.catalog_warehouse or storage.uri(storage.warehouse),
                            **properties)
    from pyiceberg.catalog.sql import SqlCatalog

    if not settings.catalog_uri:
        layout.root.mkdir(parents=True, exist_ok=True)  # the SQLite file goes there
        if not storage.remote:
            from insightflow.lake.relocate import follow_a_move

            check_catalog(layout.catalog_db, Path(storage.warehouse))
            follow_a_move(layout, Path(storage.warehouse))
    uri = settings.catalog_uri or f"sqlite:///{layout.catalog_db}"
    return SqlCatalog("insightflow", uri=uri, warehouse=storage.uri(storage.warehouse), **properties)
