"""Where things live in a lake folder: the local side of a lake, on one machine.

The folder holds the lake's settings (``insightflow.toml``), its inbox, the orchestrator's home, the
metrics file, the engine's spill space and — for a lake kept on this machine, the default — its
data: ``landing/`` (an immutable copy of every ingested file, named by its sha256),
``warehouse/`` (the Iceberg tables, registered in the SQLite catalog ``catalog.db``) and
``staging/`` (Parquet a run has written but not yet committed). With ``[lake] warehouse`` on an
object store and a shared catalog, those three live there instead (``insightflow.lake.storage``),
and machines with their own lake folders share one lake.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from insightflow.settings import lake_root


@dataclass(frozen=True)
class LakeLayout:
    """The local folder of one lake."""

    root: Path

    @classmethod
    def resolve(cls, lake: str | os.PathLike[str] | None = None) -> LakeLayout:
        """The lake at ``lake``, else ``$INSIGHTFLOW_LAKE``, else ``./lakehouse``."""
        return cls(lake_root(lake))

    @property
    def api_tokens(self) -> Path:
        """The API's token file (``$INSIGHTFLOW_API_TOKENS``, else in the lake folder)."""
        return Path(os.environ.get("INSIGHTFLOW_API_TOKENS") or self.root / "api_tokens.toml")

    @property
    def tmp(self) -> Path:
        """Where the engine spills what does not fit in its memory bound (emptied by every run)."""
        return self.root / "tmp"

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def catalog_db(self) -> Path:
        """The SQLite catalog of a lake whose catalog is not configured elsewhere."""
        return self.root / "catalog.db"

    @property
    def lock_file(self) -> Path:
        return self.root / ".lock"

    def create(self) -> None:
        self.inbox.mkdir(parents=True, exist_ok=True)
