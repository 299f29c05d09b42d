"""An inbox on an object store (``s3://bucket/prefix``), the original's S3 raw zone.

A run brings the prefix's CSV objects to a scratch folder of the lake (``LAKE/tmp``, emptied by
every run) and crawls and ingests them from there, as it does a local folder: a file's content is
ingested once, whatever its name, by its hash. So that a run does not download again what it has
ingested already, the lake folder remembers each object it ingested by its key, ETag and size
(``LAKE/.inbox-objects.json``); an object that changed, or that a crashed run did not finish, is
downloaded again.
"""

from __future__ import annotations

import json
import posixpath
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from insightflow.errors import SourceError
from insightflow.lake.layout import LakeLayout
from insightflow.lake.storage import LakeStorage, S3Options

MEMORY_FILE = ".inbox-objects.json"


@dataclass
class RemoteInbox:
    """The CSV objects under an ``s3://`` prefix, brought to a local scratch folder for one run."""

    uri: str
    layout: LakeLayout
    s3: S3Options
    folder: Path = field(init=False)
    fetched: dict[str, dict] = field(default_factory=dict)  # file name -> object

    def __post_init__(self) -> None:
        self.storage = LakeStorage(self.uri, self.s3)
        self.folder = self.layout.tmp / "inbox"

    def fetch(self, *, everything: bool = False) -> Path:
        """Download the objects not ingested before (``everything``: all of them); returns the
        folder holding them."""
        try:
            entries = self.storage.fs.ls(self.storage.root, detail=True, refresh=True)
        except (FileNotFoundError, PermissionError, OSError) as error:
            raise SourceError(self.uri, f"cannot be listed ({error})") from None
        objects = [e for e in entries if e.get("type") == "file" and e["name"].lower().endswith(".csv")
                   and not posixpath.basename(e["name"]).startswith(".")]
        if not objects:
            raise SourceError(self.uri, "holds no .csv files")
        remembered = {} if everything else self._memory()
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        for entry in objects:
            key = "s3://" + entry["name"].removeprefix("s3://")
            signature = {"etag": entry.get("ETag"), "size": entry.get("size")}
            if remembered.get(key) == signature:
                continue  # ingested before, unchanged since
            name = posixpath.basename(key)
            self.storage.fs.get_file(key, str(self.folder / name))
            self.fetched[name] = {"key": key, **signature}
        return self.folder

    def remember(self) -> None:
        """Note every fetched object as ingested (called once the run has committed its loads)."""
        memory = self._memory()
        memory.update({o["key"]: {"etag": o["etag"], "size": o["size"]} for o in self.fetched.values()})
        path = self.layout.root / MEMORY_FILE
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(memory, indent=1, sort_keys=True), encoding="utf-8")
        temporary.replace(path)

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def _memory(self) -> dict:
        path = self.layout.root / MEMORY_FILE
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {}
