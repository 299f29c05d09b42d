"""What a lake no longer needs: snapshots past the kept count, and files no snapshot references.

Every commit expires the table's oldest snapshots beyond ``keep_snapshots`` and deletes the files
only they mentioned (``expire_snapshots``). A run that died between moving its files into a table's
data folder and the catalog commit leaves data files no snapshot references, which readers never
see; the next run empties the staging folder (``clear_staging``) and, when something was left
there, finds them with ``remove_orphans``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from insightflow.lake.checksums import SIDECAR, delete_checksum

if TYPE_CHECKING:
    from pyiceberg.table import Table

    from insightflow.lake.storage import LakeStorage


def expire_snapshots(table: Table, keep: int, storage: LakeStorage) -> None:
    """Expire the table's oldest snapshots beyond ``keep`` (0: keep all) and delete their files.

    Every snapshot stays in the table's metadata, which PyIceberg copies many times per commit:
    without expiry a commit took 0.05 s on a new table and 0.77 s after 200 runs. Expiring in
    batches (when the count exceeds the limit by half) makes the file walk below rare. A file is
    deleted only when no kept snapshot mentions it (as live or deleted). Readers of an expired
    snapshot (``--as-of`` an old run) get an error naming the setting.
    """
    snapshots = sorted(table.snapshots(), key=lambda s: (s.sequence_number or 0, s.timestamp_ms))
    if not keep or len(snapshots) <= keep + max(1, keep // 2):
        return
    current = table.current_snapshot()
    expired = [s for s in snapshots[:-keep] if current is None or s.snapshot_id != current.snapshot_id]
    expired_ids = {s.snapshot_id for s in expired}
    kept = _referenced(table, [s for s in snapshots if s.snapshot_id not in expired_ids])
    unreferenced = _referenced(table, expired, known=kept) - kept
    table.maintenance.expire_snapshots().by_ids([s.snapshot_id for s in expired]).commit()
    for path in unreferenced:
        storage.delete(storage.location(path))
        delete_checksum(storage, storage.location(path))


def remove_orphans(tables: Iterable[Table], storage: LakeStorage) -> int:
    """Delete the data files of ``tables`` that none of their snapshots references; returns how many.

    Only files inside the lake's warehouse are ever deleted (a table registered from another
    lake keeps its files).
    """
    removed = 0
    for table in tables:
        referenced: set[str] = set()
        for snapshot in table.snapshots():
            for manifest in snapshot.manifests(table.io):
                for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=False):
                    referenced.add(storage.location(entry.data_file.file_path))
        data_dir = storage.location(table.location()).rstrip("/") + "/data"
        if not _inside(data_dir, storage.warehouse):  # never another lake's files
            continue
        for path in storage.list(data_dir, ".parquet"):
            if path not in referenced and _inside(path, storage.warehouse):
                storage.delete(path)
                delete_checksum(storage, path)
                removed += 1
        if not storage.remote:  # checksums of files that were never moved in
            for sidecar in storage.list(data_dir, SIDECAR):
                if not Path(sidecar.removesuffix(SIDECAR)).exists() and _inside(sidecar, storage.warehouse):
                    storage.delete(sidecar)
    return removed


def clear_staging(storage: LakeStorage, tmp: Path) -> bool:
    """Empty the staging folder and the spill folder ``tmp``; whether anything was staged (a run
    died, and may have moved files into a table that it never committed)."""
    leftovers = storage.list_tree(storage.staging)
    if tmp.exists():  # spill files of a run that died
        shutil.rmtree(tmp, ignore_errors=True)
    if storage.remote:
        storage.delete_tree(storage.staging)
    else:
        for leftover in Path(storage.staging).iterdir():
            shutil.rmtree(leftover, ignore_errors=True) if leftover.is_dir() else leftover.unlink(missing_ok=True)
    return bool(leftovers)


def _inside(location: str, warehouse: str) -> bool:
    """Whether ``location`` is under ``warehouse`` (both as ``LakeStorage`` spells locations)."""
    root = warehouse.rstrip("/") + "/"
    if "://" in warehouse:
        return location.startswith(root)
    return os.path.realpath(location).startswith(os.path.realpath(root.rstrip("/")) + os.sep)


def _referenced(table: Table, snapshots: Iterable, known: set[str] = frozenset()) -> set[str]:
    """Every file the snapshots mention: manifest lists, manifests and data files (live or deleted).

    Snapshots share manifests (an append keeps every earlier one): each is read once, and not at
    all when it is in ``known`` (files found already, with everything their manifests mention).
    """
    paths: set[str] = set()
    for snapshot in snapshots:
        paths.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(table.io):
            if manifest.manifest_path in paths or manifest.manifest_path in known:
                continue
            paths.add(manifest.manifest_path)
            for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=False):
                paths.add(entry.data_file.file_path)
    return paths
