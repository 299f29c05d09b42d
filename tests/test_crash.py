"""A run killed at any point between two commits leaves the last published figures readable,
and the next run succeeds and matches a clean run."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from insightflow import Lakehouse
from tests.exports import CUSTOMERS, DELIVERIES, ORDERS, PRODUCTS, write_export

pytestmark = pytest.mark.slow

# every commit point of a run that merges changes into each table (ingest appends, then the
# tables' merges, then the run's record: the publish point)
CHECKPOINTS = [
    "ingest:raw.customers",
    "ingest:raw.orders",
    "build:curated.order_dim",
    "publish:curated.customer_dim",
    "publish:curated.product_dim",
    "publish:curated.order_dim",
    "publish:curated.delivery_dim",
    "publish:marts.fact_sales",
    "publish:marts.order_summary",
    "record-run",
]


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path, dict]:
    """A published lake (to copy), the export it came from, a changed export, and the KPIs a
    clean lake reports after running both exports in turn."""
    root = tmp_path_factory.mktemp("crash")
    first = write_export(root / "first")
    # every source changes, so that every table merges and commits (the commit points under test)
    bumped = [[*o[:3], str(int(o[3]) + 1), *o[4:]] for o in ORDERS]
    customers = [[*CUSTOMERS[0][:3], "Corporate", *CUSTOMERS[0][4:]], *CUSTOMERS[1:]]
    products = [[*PRODUCTS[0][:1], "Smart watch 2", *PRODUCTS[0][2:]], *PRODUCTS[1:]]
    deliveries = [[DELIVERIES[0][0], "5", *DELIVERIES[0][2:]], *DELIVERIES[1:]]
    changed = write_export(root / "changed", {"orders": bumped, "customers": customers, "products": products,
                                              "deliveries": deliveries})
    published = Lakehouse(root / "published")
    published.run(first)
    clean = Lakehouse(root / "clean")
    clean.run(first)
    clean.run(changed)
    return published.layout.root, first, changed, clean.kpis()


@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
def test_sigkill_between_commits_keeps_the_last_good_snapshot(
    checkpoint: str, tmp_path: Path, exports: tuple[Path, Path, Path, dict]
) -> None:
    template, _, changed, after_clean_run = exports
    shutil.copytree(template, tmp_path / "lake")
    lake = Lakehouse(tmp_path / "lake")
    published = lake.kpis()

    killed = subprocess.run(
        [sys.executable, "-m", "insightflow.cli", "run", "--source", str(changed), "--lake", str(lake.layout.root)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "INSIGHTFLOW_KILL_AT": checkpoint},
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert Lakehouse(lake.layout.root).kpis() == published

    recovered = Lakehouse(lake.layout.root)
    assert recovered.run(changed).status == "success"
    assert recovered.kpis() == after_clean_run
    assert not recovered.catalog.storage.list_tree(recovered.catalog.storage.staging)


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("disk-full:publish:curated.order_dim", "No space left on device"),
        ("corrupt:publish:marts.fact_sales", "not valid Parquet"),
    ],
)
def test_disk_full_or_a_corrupt_staged_file_fails_cleanly(
    fault: str, message: str, tmp_path: Path, exports: tuple[Path, Path, Path, dict]
) -> None:
    template, _, changed, after_clean_run = exports
    shutil.copytree(template, tmp_path / "lake")
    lake = tmp_path / "lake"
    published = Lakehouse(lake).kpis()

    failed = subprocess.run(
        [sys.executable, "-m", "insightflow.cli", "run", "--source", str(changed), "--lake", str(lake)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "INSIGHTFLOW_FAULT": fault},
    )
    assert failed.returncode != 0
    assert "Traceback" not in failed.stderr
    last = failed.stderr.strip().splitlines()[-1]  # the lines before it are the live step timings
    assert last.startswith("insightflow: error: ") and message in last, failed.stderr
    assert Lakehouse(lake).kpis() == published

    recovered = Lakehouse(lake)
    assert recovered.run(changed).status == "success"
    assert recovered.kpis() == after_clean_run


def test_transient_catalog_errors_are_retried_and_permanent_ones_are_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from insightflow.errors import LakeError
    from insightflow.lake import catalog as catalog_module
    from insightflow.lake import retries

    monkeypatch.setattr(retries, "BACKOFF_SECONDS", 0.001)
    lake = Lakehouse(tmp_path / "lake")
    original = catalog_module.LakeCatalog._commit_files
    calls = []

    def flaky(self, *args, **kwargs):
        calls.append(1)
        if len(calls) <= 2:
            raise OSError(errno.EBUSY, "Device or resource busy")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(catalog_module.LakeCatalog, "_commit_files", flaky)
    assert lake.run(write_export(tmp_path / "export")).status == "success"
    assert len(calls) > 2  # the first commit failed twice, then went through

    def full(self, name, *args, **kwargs):
        calls.append(name)
        raise OSError(errno.ENOSPC, "No space left on device")

    calls.clear()
    monkeypatch.setattr(catalog_module.LakeCatalog, "_commit_files", full)
    with pytest.raises(LakeError, match="No space left on device"):
        lake.run(write_export(tmp_path / "export2", {"orders": ORDERS[:3]}))
    # a permanent error is not retried: one attempt at raw.orders (and one at recording the failure)
    assert calls == ["raw.orders", "ops.runs"]


def test_a_landing_copy_changed_after_a_crash_is_not_ingested(tmp_path: Path,
                                                              exports: tuple[Path, Path, Path, dict]) -> None:
    template, _, changed, after_clean_run = exports
    shutil.copytree(template, tmp_path / "lake")
    lake = Lakehouse(tmp_path / "lake")
    killed = subprocess.run(  # landed, not yet in the raw tables
        [sys.executable, "-m", "insightflow.cli", "run", "--source", str(changed), "--lake", str(lake.layout.root)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "INSIGHTFLOW_KILL_AT": "ingest:raw.customers"},
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    storage = lake.catalog.storage
    tampered = 0
    for copy in storage.list(storage.landing, ".csv"):
        path = Path(copy)
        text = path.read_bytes()
        if b"Smart watch 2" in text or b"Corporate" in text:
            path.chmod(0o644)
            path.write_bytes(text.replace(b"Smart watch 2", b"Tampered").replace(b",Corporate,", b",Tampered,"))
            tampered += 1
    assert tampered
    recovered = Lakehouse(lake.layout.root)
    assert recovered.run(changed).status == "success"
    assert recovered.kpis() == after_clean_run
    assert not recovered.sql("SELECT * FROM raw.products WHERE product_name = 'Tampered'")[1]
    assert not recovered.sql("SELECT * FROM raw.customers WHERE customer_segment = 'Tampered'")[1]


def _data_files(lake: Lakehouse) -> set[str]:
    return {f for name in lake.catalog.table_names() for f in lake.catalog.resolve(name).files}


def test_a_copied_lake_is_its_own_and_its_cleanup_never_touches_the_original(
        tmp_path: Path, exports: tuple[Path, Path, Path, dict]) -> None:
    template, _, changed, after_clean_run = exports
    original = tmp_path / "original"
    shutil.copytree(template, original)
    before = Lakehouse(original).kpis()
    copy = tmp_path / "backup"
    subprocess.run(["cp", "-a", str(original), str(copy)], check=True)  # a backup, as users make them
    assert Lakehouse(original).run(changed).status == "success"  # the original moves on
    killed = subprocess.run(
        [sys.executable, "-m", "insightflow.cli", "run", "--source", str(changed), "--lake", str(copy)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "INSIGHTFLOW_KILL_AT": "publish:marts.fact_sales"},
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert "was copied or moved from" in killed.stderr
    backup = Lakehouse(copy)
    assert backup.kpis() == before
    assert backup.run(changed).status == "success"  # its cleanup ran: the original is intact
    assert backup.kpis() == after_clean_run
    assert all(f.startswith(str(copy)) for f in _data_files(backup))
    kept = Lakehouse(original)
    assert kept.kpis() == after_clean_run and [r.status for r in kept.history()] == ["success", "success"]
    assert all(f.startswith(str(original)) and Path(f).exists() for f in _data_files(kept))


def test_a_moved_lake_works_where_it_is(tmp_path: Path, exports: tuple[Path, Path, Path, dict]) -> None:
    template, _, changed, after_clean_run = exports
    first = tmp_path / "here"
    shutil.copytree(template, first)
    published = Lakehouse(first).kpis()
    moved = tmp_path / "elsewhere" / "lake"
    moved.parent.mkdir()
    first.rename(moved)
    lake = Lakehouse(moved)
    assert lake.kpis() == published
    assert lake.snapshots("marts.fact_sales") and lake.sql("SELECT count(*) FROM raw.orders")[1][0][0] > 0
    assert lake.run(changed).status == "success" and lake.kpis() == after_clean_run
    assert all(f.startswith(str(moved)) for f in _data_files(lake))
