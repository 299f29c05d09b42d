"""The lock of a shared lake: a lease held as an object in its warehouse, with S3 conditional writes.

Machines that share a lake (one warehouse on an object store, one catalog) take turns through one
object, ``<warehouse>/_lock/lake.json``, holding who holds the lake and until when:

- a run *takes* the lease by creating the object only if it is not there (``If-None-Match: *``),
  and *renews* it every third of the lease by rewriting it only if it is unchanged since
  (``If-Match: <its ETag>``), from a background thread;
- a lease that has expired — its holder vanished with its machine — or whose holder is a process
  of this machine that is no longer running (killed) is taken over the same way, by a rewrite of
  exactly the version read: two runs that try at once cannot both succeed;
- the holder deletes it when done (``If-Match`` again: never someone else's).

A writer that lost its lease (paused longer than the lease) learns it at its next renewal, and the
catalog then refuses its commits (``LeaseLock.check``): what it wrote is left unpublished.

Why not a lock in the catalog: this needs nothing but the bucket, so it is the same with a
PostgreSQL, REST or Glue catalog; Iceberg's optimistic commits make each table's commit atomic, but
two runs interleaving their tables' commits would still mix two runs, which the lease prevents.
Clocks are compared across machines: keep them in time (NTP), as AWS itself requires.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from datetime import UTC, datetime

from insightflow.errors import LakeBusyError, LakeError
from insightflow.lake.storage import LakeStorage


class LeaseLock:
    """An exclusive, renewed lease on the lake whose warehouse is ``storage`` (an object store)."""

    def __init__(self, storage: LakeStorage, lease_seconds: float = 60.0, *, what: str = "a run") -> None:
        self.storage = storage
        self.lease = max(float(lease_seconds), 1.0)
        self.what = what
        self.key = storage.join("_lock", "lake.json")
        self.bucket, self.name = self.key.removeprefix("s3://").split("/", 1)
        self.holder = {"host": socket.gethostname(), "pid": os.getpid(), "what": what}
        self._etag: str | None = None
        self._lost = threading.Event()
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    # --- life cycle ---------------------------------------------------------------------------

    def acquire(self, timeout: float = 60.0, poll: float = 0.5) -> None:
        """Take the lease, waiting up to ``timeout`` seconds for its holder to finish."""
        deadline = time.monotonic() + timeout
        while True:
            if self._try_create():
                break
            current = self._read()
            if current is None:
                continue  # released between our two calls: try again at once
            body, etag = current
            if self._stale(body) and self._try_replace(etag):
                break
            if time.monotonic() >= deadline:
                raise LakeBusyError(
                    f"the lake at {self.storage.root} is busy: {body.get('what', 'a run')} on "
                    f"{body.get('host', '?')} (pid {body.get('pid', '?')}) holds its lease until "
                    f"{_moment(body.get('expires', 0))}; waited {timeout:g} s — try again when it has finished"
                )
            time.sleep(poll)
        self._renewer = threading.Thread(target=self._renew_until_stopped, name="insightflow-lease", daemon=True)
        self._renewer.start()

    def release(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=self.lease)
        if self._etag and not self._lost.is_set():
            try:
                self._s3("delete_object", IfMatch=self._etag)
            except OSError:  # taken over meanwhile, or already gone: not ours to delete
                pass
        self._etag = None

    def check(self) -> None:
        """Raise if the lease was lost: a writer without it must not publish anything more."""
        if self._lost.is_set():
            raise LakeError(f"this run lost the lake's lease at {self.key} (it was not renewed within "
                            f"{self.lease:g} s: setting lock_lease); nothing more of it is published")

    def __enter__(self) -> LeaseLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    # --- the object ---------------------------------------------------------------------------

    def _body(self) -> bytes:
        return json.dumps({**self.holder, "expires": time.time() + self.lease}).encode()

    def _try_create(self) -> bool:
        try:
            self._etag = self._s3("put_object", Body=self._body(), IfNoneMatch="*")["ETag"]
            return True
        except OSError as error:
            if _precondition_failed(error):
                return False
            raise LakeError(f"cannot take the lake's lease at {self.key}: {error}") from None

    def _try_replace(self, etag: str) -> bool:
        try:
            self._etag = self._s3("put_object", Body=self._body(), IfMatch=etag)["ETag"]
            return True
        except OSError as error:
            if _precondition_failed(error) or isinstance(error, FileNotFoundError):
                return False
            raise LakeError(f"cannot take over the lake's lease at {self.key}: {error}") from None

    def _read(self) -> tuple[dict, str] | None:
        try:
            etag = self.storage.fs.info(self.key, refresh=True)["ETag"]
            body = json.loads(self.storage.fs.cat_file(self.key))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError):  # unreadable: treat as expired (it is taken over by ETag)
            return {"expires": 0}, self.storage.fs.info(self.key, refresh=True).get("ETag", "")
        return body, etag

    def _stale(self, body: dict) -> bool:
        """Expired, or held by a process of this machine that is not running any more."""
        if float(body.get("expires", 0)) < time.time():
            return True
        if body.get("host") == self.holder["host"] and isinstance(body.get("pid"), int):
            return not _alive(body["pid"])
        return False

    def _renew_until_stopped(self) -> None:
        while not self._stop.wait(self.lease / 3) and self.renew():
            pass

    def renew(self) -> bool:
        """Extend the lease by its length; False (and the lease lost) if it was taken over."""
        try:
            self._etag = self._s3("put_object", Body=self._body(), IfMatch=self._etag)["ETag"]
            return True
        except OSError:  # taken over (we were too slow) or the store is unreachable
            self._lost.set()
            return False

    def _s3(self, method: str, **arguments: object) -> dict:
        return self.storage.fs.call_s3(method, Bucket=self.bucket, Key=self.name, **arguments)


def _precondition_failed(error: OSError) -> bool:
    cause = getattr(error, "__cause__", None)
    code = getattr(cause, "response", {}).get("Error", {}).get("Code")
    return code in ("PreconditionFailed", "ConditionalRequestConflict")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # somebody else's process: alive
        return True
    return True


def _moment(seconds: float) -> str:
    return datetime.fromtimestamp(float(seconds), tz=UTC).strftime("%H:%M:%S UTC")
