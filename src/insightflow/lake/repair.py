"""A local lake's SQLite catalog: checked before use, backed up after each published run, repaired.

The catalog (``LAKE/catalog.db``) is small, but everything hangs on it: it points at each table's
current metadata file. Deleted or emptied, the next run would silently start a new lake over a
warehouse full of tables; corrupt, every command fails with SQLite's own words. So a lake whose
catalog is missing, empty or unreadable while its warehouse holds tables is refused with one line
naming the remedy, ``insightflow repair``, which makes a new catalog and registers every table from
its newest metadata file (Iceberg's ``register_table``), keeping the broken file aside. Each
published run leaves a consistent copy in ``catalog.db.bak`` (SQLite's backup API), which
``insightflow repair --from-backup`` puts back instead.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from insightflow.errors import LakeError

_METADATA = re.compile(r"^(\d+)-.*\.metadata\.json$")
BACKUP_SUFFIX = ".bak"


def table_metadata(warehouse: Path) -> dict[tuple[str, str], Path]:
    """The newest metadata file of every table under ``warehouse`` (by its version number)."""
    newest: dict[tuple[str, str], tuple[int, Path]] = {}
    for path in warehouse.glob("*/*/metadata/*.metadata.json"):
        match = _METADATA.match(path.name)
        if not match:
            continue
        key = (path.parent.parent.parent.name, path.parent.parent.name)
        version = int(match.group(1))
        if key not in newest or version > newest[key][0]:
            newest[key] = (version, path)
    return {key: path for key, (_, path) in sorted(newest.items())}


def check_catalog(catalog_db: Path, warehouse: Path) -> None:
    """Refuse a catalog that is missing, empty or unreadable while the warehouse holds tables."""
    problem = _problem(catalog_db)
    if problem is None:
        return
    tables = table_metadata(warehouse) if warehouse.exists() else {}
    if problem in ("missing", "empty") and not tables:
        return  # a new lake
    raise LakeError(f"the lake's catalog {catalog_db} is {problem}, but its warehouse holds {len(tables)} tables: "
                    f"run `insightflow repair --lake {catalog_db.parent}` to register them again (nothing was changed)")


def _problem(catalog_db: Path) -> str | None:
    if not catalog_db.exists():
        return "missing"
    if catalog_db.stat().st_size == 0:
        return "empty"
    try:
        with sqlite3.connect(f"file:{catalog_db}?mode=ro", uri=True) as con:
            check = con.execute("PRAGMA quick_check").fetchone()
            if not check or check[0] != "ok":
                return "corrupt"
            count = con.execute("SELECT count(*) FROM iceberg_tables").fetchone()[0]
    except sqlite3.OperationalError as error:
        return "empty" if "no such table" in str(error) else "unreadable"
    except sqlite3.DatabaseError:
        return "corrupt"
    return "empty" if count == 0 else None


def backup(catalog_db: Path) -> None:
    """Copy the catalog, consistently, to ``catalog.db.bak`` (after a published run)."""
    target = catalog_db.with_name(catalog_db.name + BACKUP_SUFFIX)
    temporary = target.with_name(target.name + ".part")
    with sqlite3.connect(catalog_db) as source, sqlite3.connect(temporary) as copy:
        source.backup(copy)
    temporary.replace(target)


def repair(catalog_db: Path, warehouse: Path, *, from_backup: bool = False) -> tuple[str, list[str]]:
    """Make a working catalog again; (what was done, the tables registered). The broken catalog
    is kept beside it as ``catalog.db.broken-<time>``."""
    from pyiceberg.catalog.sql import SqlCatalog

    problem = _problem(catalog_db)
    if problem is None and not from_backup:
        return "the catalog is sound; nothing to repair", []
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    if catalog_db.exists():
        aside = catalog_db.with_name(f"{catalog_db.name}.broken-{stamp}")
        shutil.move(catalog_db, aside)
        kept = f" (the old one is {aside.name})"
    else:
        kept = ""
    if from_backup:
        saved = catalog_db.with_name(catalog_db.name + BACKUP_SUFFIX)
        if _problem(saved) is not None:
            raise LakeError(f"{saved} is {_problem(saved)}: run `insightflow repair` without --from-backup")
        shutil.copy2(saved, catalog_db)
        with sqlite3.connect(catalog_db) as con:
            names = [f"{ns}.{t}" for ns, t in con.execute("SELECT table_namespace, table_name FROM iceberg_tables")]
        return f"restored the catalog from {saved.name}{kept}", sorted(names)
    catalog = SqlCatalog("insightflow", uri=f"sqlite:///{catalog_db}", warehouse=warehouse.as_uri())
    registered = []
    for (namespace, table), metadata in table_metadata(warehouse).items():
        if (namespace,) not in catalog.list_namespaces():
            catalog.create_namespace(namespace)
        catalog.register_table((namespace, table), metadata.as_uri())
        registered.append(f"{namespace}.{table}")
    return f"registered {len(registered)} tables from their newest metadata{kept}", registered
