"""Dagster's SQLite event log, made cheap enough to run the pipeline through it in seconds.

Dagster's ``SqliteEventLogStorage`` creates a SQLAlchemy engine, opens a connection and syncs the
disk for every event it stores; a run of the pipeline stores ~180 events (and mirrors ~120 into
its index database), which cost 4–6 s a run on this machine. This subclass keeps its behaviour
and files and changes only how it connects:

- one engine per database, kept with a pooled connection (and its compiled statements);
- the databases stay in Dagster's WAL mode, with ``synchronous=NORMAL``: a commit no longer waits
  for the disk; a power cut may lose the last events, never corrupt a database (the run itself is
  recorded durably in the lake's ``ops.runs``);
- Dagster's UI follows a live run by watching its database file; with a connection kept open, new
  events land in the ``-wal`` file first, so the watcher here looks at both.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SqliteEventLogStorage,
    SqliteEventLogStorageWatchdog,
)
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from watchdog.events import FileSystemEvent, PatternMatchingEventHandler
from watchdog.observers import Observer

_KEPT_RUN_ENGINES = 8  # engines of recent runs' databases kept open (a daemon lives long)
_BUSY_TIMEOUT = 30  # seconds SQLite waits for another process's write lock


class LakeEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` with kept engines and relaxed syncing (see the module doc)."""

    def __init__(self, base_dir: str, inst_data=None) -> None:
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_lock = threading.Lock()
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> LakeEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        with self._engines_lock:
            engine = self._engines.get(shard)
            if engine is not None:
                self._engines.move_to_end(shard)
                return engine
            url = self.conn_string_for_shard(shard)
            engine = create_engine(url, connect_args={"timeout": _BUSY_TIMEOUT, "check_same_thread": False})
            event.listen(engine, "connect", _set_synchronous_normal)
            self._engines[shard] = engine
            while len(self._engines) > _KEPT_RUN_ENGINES + 1:
                oldest = next(s for s in self._engines if s != INDEX_SHARD_NAME)
                self._engines.pop(oldest).dispose()
            return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _dispose_engines(self) -> None:
        with self._engines_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()

    def wipe(self) -> None:
        self._dispose_engines()
        super().wipe()

    def dispose(self) -> None:
        self._dispose_engines()
        super().dispose()


    def watch(self, run_id: str, cursor: str | None, callback) -> None:
        if not self._obs:
            self._obs = Observer()
            self._obs.start()
        watchdog = _WalWatchdog(self, run_id, callback, cursor)
        self._watchers[run_id][callback] = (watchdog, self._obs.schedule(watchdog, self._base_dir, recursive=True))


class _WalWatchdog(SqliteEventLogStorageWatchdog):
    """Dagster's watchdog of a run's database, also woken by writes to its write-ahead log."""

    def __init__(self, storage: LakeEventLogStorage, run_id: str, callback, cursor: str | None) -> None:
        super().__init__(storage, run_id, callback, cursor)
        PatternMatchingEventHandler.__init__(self, patterns=[self._log_path, self._log_path + "-wal"])

    def on_modified(self, event: FileSystemEvent) -> None:
        self._process_log()


def _set_synchronous_normal(connection: sqlite3.Connection, _record: object) -> None:
    connection.execute("PRAGMA synchronous=NORMAL")
