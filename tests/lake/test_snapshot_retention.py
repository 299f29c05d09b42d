"""A lake that runs every day stays as fast as a new one: snapshots expire, manifests do not pile up."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from insightflow import Lakehouse
from insightflow.errors import LakeError
from insightflow.lake import LakeCatalog, LakeLayout
from insightflow.settings import Settings
from tests.exports import ORDERS, write_export


def _commits(catalog: LakeCatalog, tmp_path: Path, count: int, *, overwrite: bool) -> list[str]:
    """``count`` commits of a one-row file each; returns the committed values in order."""
    values = []
    for n in range(count):
        staged = tmp_path / "staged" / f"part-{n}.parquet"
        staged.parent.mkdir(exist_ok=True)
        pq.write_table(pa.table({"value": [f"commit {n}"]}), staged)
        catalog.commit("ops.retention", [staged], overwrite=overwrite)
        values.append(f"commit {n}")
    return values


def _read(catalog: LakeCatalog, snapshot_id: int | None = None) -> list[str]:
    files = catalog.resolve("ops.retention", snapshot_id).files
    return sorted(v for f in files for v in pq.read_table(f).column("value").to_pylist())


def test_a_table_replaced_on_every_run_keeps_a_bounded_history_and_its_files(tmp_path: Path) -> None:
    catalog = LakeCatalog(LakeLayout.resolve(tmp_path / "lake"), keep_snapshots=4)
    values = _commits(catalog, tmp_path, 13, overwrite=True)
    table = catalog.load("ops.retention")
    snapshots = table.snapshots()
    # expired in batches: never more than the limit and half of it
    assert 4 <= len(snapshots) <= 6
    # PyIceberg alone would list one more delete-only manifest per overwrite (13 here)
    assert len(table.current_snapshot().manifests(table.io)) <= 2
    assert _read(catalog) == [values[-1]]
    kept = {f for s in snapshots for f in catalog.resolve("ops.retention", s.snapshot_id).files}
    for snapshot in snapshots:  # every kept snapshot still reads as it was committed
        assert _read(catalog, snapshot.snapshot_id) == [values[len(values) - len(snapshots) + snapshots.index(snapshot)]]
    data = {str(p) for p in (Path(table.location().removeprefix("file://")) / "data").glob("*.parquet")}
    # the expired snapshots' files are gone but one: the file the oldest kept snapshot records as
    # deleted (a file any kept snapshot mentions stays)
    assert kept <= data and len(data - kept) <= 1
    metadata_files = list((Path(table.location().removeprefix("file://")) / "metadata").glob("*.metadata.json"))
    assert len(metadata_files) <= 11


def test_an_expired_snapshot_is_refused_with_the_setting_named(tmp_path: Path) -> None:
    catalog = LakeCatalog(LakeLayout.resolve(tmp_path / "lake"), keep_snapshots=2)
    _commits(catalog, tmp_path, 2, overwrite=True)
    first = catalog.load("ops.retention").snapshots()[0].snapshot_id
    _commits(catalog, tmp_path, 3, overwrite=True)
    with pytest.raises(LakeError, match=f"no snapshot {first}.*keep_snapshots"):
        catalog.resolve("ops.retention", first)


def test_an_appended_table_keeps_every_row(tmp_path: Path) -> None:
    catalog = LakeCatalog(LakeLayout.resolve(tmp_path / "lake"), keep_snapshots=3)
    values = _commits(catalog, tmp_path, 10, overwrite=False)
    assert len(catalog.load("ops.retention").snapshots()) <= 4
    assert _read(catalog) == sorted(values)


def test_keep_snapshots_zero_keeps_them_all(tmp_path: Path) -> None:
    catalog = LakeCatalog(LakeLayout.resolve(tmp_path / "lake"), keep_snapshots=0)
    _commits(catalog, tmp_path, 31, overwrite=True)  # beyond the default's 20 + 10
    assert len(catalog.load("ops.retention").snapshots()) == 31


def test_the_setting_comes_from_the_environment_or_the_lake_file(tmp_path: Path, monkeypatch) -> None:
    lake = tmp_path / "lake"
    lake.mkdir()
    assert Settings.load(lake).keep_snapshots == 20
    (lake / "insightflow.toml").write_text("[lake]\nkeep_snapshots = 5\n", encoding="utf-8")
    assert Settings.load(lake).keep_snapshots == 5
    assert LakeCatalog(LakeLayout.resolve(lake)).keep_snapshots == 5
    monkeypatch.setenv("INSIGHTFLOW_KEEP_SNAPSHOTS", "7")
    assert Settings.load(lake).keep_snapshots == 7


def test_runs_beyond_the_limit_keep_the_lake_readable_and_tidy(lake: Lakehouse, small_export: Path) -> None:
    (lake.layout.root / "insightflow.toml").parent.mkdir(parents=True, exist_ok=True)
    (lake.layout.root / "insightflow.toml").write_text("[lake]\nkeep_snapshots = 1\n", encoding="utf-8")
    first = lake.run(small_export)
    for n in range(3):  # each run changes an order line: the tables built from it commit again
        lake.run(write_export(lake.layout.root.parent / f"export-{n}",
                              {"orders": [[*ORDERS[0][:3], str(n + 2), *ORDERS[0][4:]], *ORDERS[1:]]}))
    assert lake.kpis()["products_ordered"] == sum(int(o[3]) for o in ORDERS) + 3
    with pytest.raises(LakeError, match="keep_snapshots"):  # a new reader: no cached result
        Lakehouse(lake.layout.root).kpis(as_of=first.run_id)
    assert lake.catalog.remove_orphans() == 0  # expiry left no unreferenced data file behind


def test_appended_tables_merge_their_manifests(tmp_path: Path) -> None:
    catalog = LakeCatalog(LakeLayout.resolve(tmp_path / "lake"), keep_snapshots=0)
    values = _commits(catalog, tmp_path, 40, overwrite=False)  # one append a load, 40 loads
    table = catalog.load("ops.retention")
    assert len(table.current_snapshot().manifests(table.io)) <= 16  # not 40: merged at 16
    assert _read(catalog) == sorted(values)


def test_the_run_log_is_compacted_as_it_grows(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from insightflow.lake import RunRecord, list_runs, record_run

    catalog = LakeCatalog(LakeLayout.resolve(tmp_path / "lake"))
    now = datetime.now(UTC).replace(tzinfo=None)
    for n in range(40):
        record_run(catalog, RunRecord(f"run-{n:02d}", "success", "duckdb", None, now, now), tmp_path / "staging")
    assert len(catalog.resolve("ops.runs").files) <= 16  # one small file a run, compacted
    assert [r.run_id for r in list_runs(catalog)] == [f"run-{n:02d}" for n in range(40)]


def test_a_commit_rebuilds_the_table_metadata_once_per_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # PyIceberg deep-copies a table's whole metadata on every read of Transaction.table_metadata:
    # 20 reads an append, 31 an overwrite, each costing more as the table's history grows.
    import pyiceberg.table

    from insightflow.lake.pyiceberg_fixes import transaction

    catalog = LakeCatalog(LakeLayout.resolve(tmp_path / "lake"), keep_snapshots=4)
    _commits(catalog, tmp_path, 3, overwrite=False)
    rebuilds = []
    real = pyiceberg.table.update_table_metadata
    monkeypatch.setattr(pyiceberg.table, "update_table_metadata", lambda *a, **k: rebuilds.append(1) or real(*a, **k))
    for overwrite in (False, True):
        rebuilds.clear()
        (tmp_path / str(overwrite)).mkdir()
        _commits(catalog, tmp_path / str(overwrite), 1, overwrite=overwrite)
        assert len(rebuilds) <= 3, (overwrite, len(rebuilds))
    assert _read(catalog) == ["commit 0"]  # the overwrite replaced the four appended files

    tx = transaction(catalog.load("ops.retention"))
    first = tx.table_metadata
    assert tx.table_metadata is first  # the same state: not rebuilt
    tx.set_properties(reviewed="yes")
    assert tx.table_metadata is not first and tx.table_metadata.properties["reviewed"] == "yes"
