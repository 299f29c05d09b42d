"""Where things live in a lake folder."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_LAKE = "./lakehouse"


@dataclass(frozen=True)
class LakeLayout:
    """The folders and files of one lake.

    ``landing/`` keeps an immutable copy of every ingested file, named by its sha256;
    ``warehouse/`` holds the Iceberg tables, registered in the SQLite catalog ``catalog.db``;
    ``staging/`` holds Parquet files a run has written but not yet committed (cleaned by every run);
    ``inbox/`` is where ``demo`` (and users) drop exports.
    """

    root: Path

    @classmethod
    def resolve(cls, lake: str | os.PathLike[str] | None = None) -> LakeLayout:
        """The lake at ``lake``, else ``$INSIGHTFLOW_LAKE``, else ``./lakehouse``."""
        chosen = lake or os.environ.get("INSIGHTFLOW_LAKE") or DEFAULT_LAKE
        return cls(Path(chosen).expanduser().resolve())

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse"

    @property
    def staging(self) -> Path:
        return self.root / "staging"

    @property
    def tmp(self) -> Path:
        """Where the engine spills what does not fit in its memory bound."""
        return self.root / "tmp"

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def catalog_db(self) -> Path:
        return self.root / "catalog.db"

    @property
    def lock_file(self) -> Path:
        return self.root / ".lock"

    def exists(self) -> bool:
        return self.catalog_db.exists()

    def create(self) -> None:
        for folder in (self.landing, self.warehouse, self.staging, self.inbox):
            folder.mkdir(parents=True, exist_ok=True)
