"""Where a lake's data lives: the local lake folder, or a prefix of an S3-compatible object store.

Table data, landing copies and staged files go under the *warehouse* (``INSIGHTFLOW_WAREHOUSE``,
``[lake] warehouse``): by default the lake folder itself, else ``s3://bucket/prefix``. Every part of
the lake reaches it through one fsspec filesystem — the local one, or s3fs (which PyIceberg's
``FsspecFileIO``, DuckDB and PyArrow all accept, so one configuration serves them all). The object
store is found with the standard AWS settings (``AWS_ENDPOINT_URL``, ``AWS_REGION``, the
credentials of ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` or the instance role); objects are
written with server-side encryption when ``[lake] s3_sse`` asks for it.

A location is a string: an absolute local path, or ``s3://bucket/key``.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from insightflow.errors import UsageError

if TYPE_CHECKING:
    import fsspec
    import pyarrow.fs

REMOTE_SCHEMES = ("s3://", "s3a://")


def is_remote(location: str) -> bool:
    return location.startswith(REMOTE_SCHEMES)


@dataclass(frozen=True)
class S3Options:
    """How to reach the object store: from the standard AWS environment, plus encryption settings."""

    endpoint_url: str | None = None
    region: str | None = None
    sse: str | None = None  # "AES256" (SSE-S3) or "aws:kms" (SSE-KMS)
    sse_kms_key_id: str | None = None

    @classmethod
    def from_environment(cls, sse: str | None = None, sse_kms_key_id: str | None = None) -> S3Options:
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        return cls(os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL_S3"), region,
                   sse, sse_kms_key_id)

    def s3fs_options(self) -> dict:
        client = {k: v for k, v in {"endpoint_url": self.endpoint_url, "region_name": self.region}.items() if v}
        return {"client_kwargs": client, "s3_additional_kwargs": self.sse_arguments()}

    def sse_arguments(self) -> dict[str, str]:
        """The arguments of an S3 write that ask for server-side encryption."""
        arguments = {"ServerSideEncryption": self.sse} if self.sse else {}
        if self.sse_kms_key_id:
            arguments["SSEKMSKeyId"] = self.sse_kms_key_id
        return arguments

    def iceberg_properties(self) -> dict[str, str]:
        """PyIceberg's FileIO properties for the same store (credentials: the default chain)."""
        properties = {"py-io-impl": "pyiceberg.io.fsspec.FsspecFileIO"}
        if self.endpoint_url:
            properties["s3.endpoint"] = self.endpoint_url
        if self.region:
            properties["s3.region"] = self.region
        for key, name in (("AWS_ACCESS_KEY_ID", "s3.access-key-id"), ("AWS_SECRET_ACCESS_KEY", "s3.secret-access-key"),
                          ("AWS_SESSION_TOKEN", "s3.session-token")):
            if os.environ.get(key):
                properties[name] = os.environ[key]
        if self.sse:
            properties["s3.server-side-encryption"] = self.sse
        if self.sse_kms_key_id:
            properties["s3.sse-kms-key-id"] = self.sse_kms_key_id
        return properties


class LakeStorage:
    """The warehouse of a lake: where its tables, landing copies and staged files are."""

    def __init__(self, root: str | Path, s3: S3Options | None = None) -> None:
        text = str(root).rstrip("/")
        self.remote = is_remote(text)
        if self.remote:
            text = "s3://" + text.split("://", 1)[1]
            if len(text) <= len("s3://") or text[len("s3://"):].startswith("/"):
                raise UsageError(f"warehouse {root!r}: give it as s3://bucket/prefix")
        else:
            text = str(Path(text).expanduser().resolve())
        self.root = text
        self.s3 = s3 or S3Options.from_environment()

    def __repr__(self) -> str:
        return f"LakeStorage({self.root!r})"

    # --- locations ----------------------------------------------------------------------------

    def join(self, *parts: str) -> str:
        return posixpath.join(self.root, *parts) if self.remote else str(Path(self.root, *parts))

    @property
    def warehouse(self) -> str:
        """Where the Iceberg tables are (the catalog's warehouse location)."""
        return self.join("warehouse")

    @property
    def landing(self) -> str:
        return self.join("landing")

    @property
    def staging(self) -> str:
        return self.join("staging")

    def uri(self, location: str) -> str:
        """``location`` as a URI (PyIceberg's spelling: ``file:///…`` for a local path)."""
        return location if is_remote(location) else Path(location).as_uri()

    @staticmethod
    def location(uri: str) -> str:
        """A URI PyIceberg returned, as this module spells locations."""
        return uri.removeprefix("file://") if uri.startswith("file://") else uri.replace("s3a://", "s3://", 1)

    # --- the filesystem -----------------------------------------------------------------------

    @cached_property
    def fs(self) -> fsspec.AbstractFileSystem:
        """The fsspec filesystem of the warehouse (s3fs for an object store)."""
        if not self.remote:
            from fsspec.implementations.local import LocalFileSystem

            return LocalFileSystem(auto_mkdir=True)
        import s3fs

        return s3fs.S3FileSystem(**self.s3.s3fs_options())

    @cached_property
    def arrow_fs(self) -> pyarrow.fs.FileSystem:
        """The same filesystem for PyArrow (datasets, Parquet files)."""
        import pyarrow.fs as pafs

        if not self.remote:
            return pafs.LocalFileSystem()
        return pafs.PyFileSystem(pafs.FSSpecHandler(self.fs))

    def arrow_path(self, location: str) -> str:
        """``location`` as PyArrow's filesystem takes it (no scheme for the object store)."""
        return location.split("://", 1)[1] if is_remote(location) else location

    def open(self, location: str, mode: str = "rb"):  # noqa: ANN201 - an fsspec file object
        return self.fs.open(location, mode)

    def exists(self, location: str) -> bool:
        return self.fs.exists(location)

    def size(self, location: str) -> int:
        return int(self.fs.size(location))

    def makedirs(self, location: str) -> None:
        if not self.remote:  # an object store has no folders
            Path(location).mkdir(parents=True, exist_ok=True)

    def move(self, source: str, target: str) -> None:
        """Move a file (a server-side copy and delete on an object store)."""
        if self.remote:
            self.fs.mv(source, target)
        else:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)

    def delete(self, location: str) -> None:
        """Delete a file if it is there."""
        try:
            self.fs.rm_file(location)
        except FileNotFoundError:
            pass

    def delete_tree(self, location: str) -> None:
        """Delete a folder (a prefix) and everything in it, if it is there."""
        try:
            if self.fs.exists(location):
                self.fs.rm(location, recursive=True)
        except FileNotFoundError:
            pass

    def list(self, location: str, suffix: str = "") -> list[str]:
        """The files directly under ``location`` whose names end in ``suffix`` (none if it is absent)."""
        try:
            entries = self.fs.ls(location, detail=True)
        except FileNotFoundError:
            return []
        found = [e["name"] for e in entries if e.get("type") == "file" and e["name"].endswith(suffix)]
        return sorted(("s3://" + f if self.remote and not f.startswith("s3://") else f) for f in found)

    def list_tree(self, location: str) -> list[str]:
        """Every file under ``location``, at any depth."""
        try:
            found = self.fs.find(location, detail=True)
        except FileNotFoundError:
            return []
        # an object store may list a folder's own marker (SeaweedFS does): only files count
        names = [name for name, info in found.items() if info.get("type") == "file" and info.get("size", 1) is not None]
        names = [n for n in names if n.rstrip("/") != location.removeprefix("s3://").rstrip("/")]
        return sorted(("s3://" + f if self.remote and not f.startswith("s3://") else f) for f in names)


def connect_storage(con, storage: LakeStorage) -> None:  # noqa: ANN001 - a DuckDB connection
    """Let a DuckDB connection read and write the lake's object store through the lake's own
    filesystem (s3fs): DuckDB's httpfs extension would have to be downloaded at run time."""
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.register_filesystem(storage.fs)
