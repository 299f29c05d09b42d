"""A lake folder copied or moved elsewhere: its tables rewritten to point at their new place.

Iceberg writes absolute paths: the catalog points at each table's metadata file, the metadata at
its manifest lists, they at the manifests, and those at the data files — all ``file:///…`` URIs
under the warehouse where they were written. A copy of a lake (a backup, ``cp -a``) would read the
original's files and, worse, a crashed run's orphan cleanup there would delete the original's
newer files; a moved lake would find nothing. So when a lake's catalog points outside its own
warehouse, every metadata file and manifest under the warehouse is rewritten with the new prefix
(JSON as text; Avro record by record with fastavro, the schema and its field ids kept byte for
byte, each manifest's new length carried into its manifest list), then the catalog's pointers.
A local lake with its own SQLite catalog only: a shared catalog names its warehouse itself.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from insightflow.lake.storage import LakeStorage

if TYPE_CHECKING:
    from insightflow.lake.layout import LakeLayout

log = logging.getLogger(__name__)


def follow_a_move(layout: LakeLayout, warehouse: Path) -> None:
    """Point the tables of a lake folder that was copied or moved at their new place, once,
    before anything reads them."""
    if moved_from(layout.catalog_db, warehouse) is None:
        return
    with open(layout.root / ".relocate.lock", "a+") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)  # two processes opening the moved lake take turns
        old = moved_from(layout.catalog_db, warehouse)
        if old is not None:
            count = relocate(layout.catalog_db, warehouse, old)
            sys.stderr.write(f"insightflow: the lake at {layout.root} was copied or moved from "
                             f"{old.removeprefix('file://').removesuffix('/warehouse/')}: {count} metadata "
                             "files now point at its own folder\n")


def moved_from(catalog_db: Path, warehouse: Path) -> str | None:
    """The warehouse URI the catalog's tables point into when it is not ``warehouse``, else None."""
    if not catalog_db.exists():
        return None
    here = warehouse.as_uri() + "/"
    with sqlite3.connect(catalog_db) as con:
        try:
            locations = [row[0] for row in con.execute("SELECT metadata_location FROM iceberg_tables")]
        except sqlite3.DatabaseError:  # not made yet, or not a catalog: not ours to judge here
            return None
    for location in locations:
        if location and not location.startswith(here):
            return _warehouse_of(location)
    if locations and locations[0]:  # pointers here (a repaired catalog): is what they point at?
        try:
            with Path(LakeStorage.location(locations[0])).open(encoding="utf-8") as handle:
                table_location = json.load(handle).get("location", "")
        except (OSError, ValueError):
            return None
        if table_location and not table_location.startswith(here):
            return _warehouse_of(table_location + "/")
    return None


def _warehouse_of(location: str) -> str | None:
    marker = location.find("/warehouse/")
    return location[: marker + len("/warehouse/")] if marker >= 0 else None


def relocate(catalog_db: Path, warehouse: Path, old: str) -> int:
    """Rewrite every table under ``warehouse`` from the ``old`` warehouse URI to its own; returns
    the files rewritten. Idempotent: a file already pointing here is left as it is."""
    new = warehouse.as_uri() + "/"
    rewritten = 0
    manifests = [p for p in warehouse.rglob("metadata/*.avro") if not p.name.startswith("snap-")]
    lengths: dict[str, int] = {}
    for path in manifests:  # manifests first: their lists record their lengths
        if _rewrite_avro(path, old, new, {}):
            rewritten += 1
        lengths[new + path.relative_to(warehouse).as_posix()] = path.stat().st_size
    for path in warehouse.rglob("metadata/snap-*.avro"):
        rewritten += _rewrite_avro(path, old, new, lengths)
    for path in warehouse.rglob("metadata/*.metadata.json"):
        text = path.read_text(encoding="utf-8")
        if old in text:
            _replace_file(path, text.replace(json.dumps(old)[1:-1], json.dumps(new)[1:-1]).encode("utf-8"))
            rewritten += 1
    with sqlite3.connect(catalog_db) as con:
        con.execute("UPDATE iceberg_tables SET metadata_location = replace(metadata_location, ?, ?), "
                    "previous_metadata_location = replace(previous_metadata_location, ?, ?)", (old, new, old, new))
    log.info("lake moved from %s to %s: %d metadata files rewritten", old, new, rewritten)
    return rewritten


def _rewrite_avro(path: Path, old: str, new: str, lengths: dict[str, int]) -> bool:
    import fastavro

    with path.open("rb") as handle:
        reader = fastavro.reader(handle)
        schema = json.loads(reader.metadata["avro.schema"])
        metadata = {k: v for k, v in reader.metadata.items() if not k.startswith("avro.")}
        codec = reader.codec
        records = list(reader)
    changed = False

    def moved(value: object) -> object:
        nonlocal changed
        if isinstance(value, str) and value.startswith(old):
            changed = True
            return new + value[len(old):]
        if isinstance(value, dict):
            return {k: moved(v) for k, v in value.items()}
        if isinstance(value, list):
            return [moved(v) for v in value]
        return value

    records = [moved(r) for r in records]
    for record in records:  # a manifest list: each manifest's length as rewritten
        if isinstance(record, dict) and record.get("manifest_path") in lengths:
            record["manifest_length"] = lengths[record["manifest_path"]]
    if not changed:
        return False
    temporary = path.with_name(f".{path.name}.relocating")
    with temporary.open("wb") as out:
        fastavro.writer(out, schema, records, codec=codec, metadata=metadata)
    os.replace(temporary, path)
    return True


def _replace_file(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.relocating")
    temporary.write_bytes(data)
    os.replace(temporary, path)
