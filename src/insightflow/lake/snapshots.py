"""One new snapshot of an Iceberg table, written in one PyIceberg transaction.

A commit evolves the table's schema when the files bring new columns, sets the table's properties
if they are missing, and appends the files or replaces every current file with them; a rollback
replaces the current files with an older snapshot's. The files are Parquet already in the table's
data folder (``LakeCatalog.commit`` moved them there); the snapshot only records them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pyarrow as pa

from insightflow.lake.pyiceberg_fixes import live_manifests_only, name_mapping_property, transaction

if TYPE_CHECKING:
    from pyiceberg.table import Table

#: Set on every table: PyIceberg deletes a table's metadata files beyond the newest 10 on commit
#: (only the newest is read; the others pile up, one per commit, otherwise), and appends merge the
#: manifests when there are 16 of them.
TABLE_PROPERTIES = {
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "10",
    "commit.manifest-merge.enabled": "true",
    "commit.manifest.min-count-to-merge": "16",
}


def commit_files(
    table: Table, schema: pa.Schema, paths: Sequence[str], *, overwrite: bool, properties: dict[str, str]
) -> None:
    """Evolve ``table``'s schema to ``schema`` if needed, then append ``paths`` (URIs of Parquet
    files) as one snapshot, or with ``overwrite`` replace every current file with them.

    PyIceberg rebuilds (deep-copies) the table metadata on every read of
    ``Transaction.table_metadata``; the transaction keeps it per state
    (``pyiceberg_fixes.transaction``). The commit updates ``table`` to the new metadata.
    """
    from pyiceberg.io.pyarrow import parquet_file_to_data_file

    with transaction(table) as tx:
        metadata = table.metadata
        known = {c.name for c in metadata.schema().fields}
        if any(f.name not in known for f in schema):
            with tx.update_schema() as update:
                update.union_by_name(optional(schema))
            metadata = tx.table_metadata
        missing = {key: value for key, value in TABLE_PROPERTIES.items() if key not in metadata.properties}
        missing.update(name_mapping_property(metadata))
        if missing:
            tx.set_properties(**missing)
        update_snapshot = tx.update_snapshot(snapshot_properties=properties)
        # An append merges the table's manifests once there are 16 (TABLE_PROPERTIES): else each
        # load adds one, which every later scan and commit reads.
        producer = live_manifests_only(update_snapshot.overwrite()) if overwrite else update_snapshot.merge_append()
        with producer as snapshot:
            if overwrite:
                for task in table.scan().plan_files():
                    snapshot.delete_data_file(task.file)
            metadata = tx.table_metadata
            for path in paths:
                snapshot.append_data_file(parquet_file_to_data_file(table.io, metadata, path))


def republish_files(table: Table, paths: Sequence[str], *, properties: dict[str, str]) -> None:
    """Replace every current file of ``table`` with ``paths`` (URIs of files it had before), as
    one overwrite snapshot."""
    from pyiceberg.io.pyarrow import parquet_file_to_data_file

    with transaction(table) as tx:
        update_snapshot = tx.update_snapshot(snapshot_properties=properties)
        with live_manifests_only(update_snapshot.overwrite()) as snapshot:
            for task in table.scan().plan_files():
                snapshot.delete_data_file(task.file)
            for path in paths:
                snapshot.append_data_file(parquet_file_to_data_file(table.io, tx.table_metadata, path))


def optional(schema: pa.Schema) -> pa.Schema:
    """``schema`` with every column optional.

    DuckDB marks a Parquet column "required" when it knows the column holds no NULL (it does when
    it writes from a table), and a table or column created from such a file would refuse the next
    file that has one.
    """
    return pa.schema([field.with_nullable(True) for field in schema])
