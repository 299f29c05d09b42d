"""A lake whose catalog was deleted, emptied or corrupted is refused in one line and repaired."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from insightflow import Lakehouse
from tests.exports import write_export
from tests.test_cli import insightflow


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("repair")
    lake = Lakehouse(root / "lake")
    lake.run(write_export(root / "export"))
    return lake.layout.root, lake.kpis()


def _break(catalog: Path, how: str) -> None:
    if how == "deleted":
        catalog.unlink()
    elif how == "emptied":
        catalog.write_bytes(b"")
    else:  # bytes overwritten in the middle: "database disk image is malformed"
        data = bytearray(catalog.read_bytes())
        data[len(data) // 3: len(data) // 3 + 4096] = b"\x5a" * 4096
        catalog.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["deleted", "emptied", "corrupted"])
def test_a_broken_catalog_is_refused_and_repaired(published: tuple[Path, dict], tmp_path: Path, how: str) -> None:
    template, figures = published
    root = tmp_path / "lake"
    shutil.copytree(template, root)
    assert (root / "catalog.db.bak").exists()  # left by the published run
    _break(root / "catalog.db", how)
    warehouse = sorted(p.relative_to(root) for p in (root / "warehouse").rglob("*"))
    for command in (["kpis"], ["run", "--source", str(write_export(tmp_path / "export"))], ["history"]):
        out = insightflow(*command, lake=root)
        assert out.returncode == 3, (command, out.stdout, out.stderr)
        assert len(out.stderr.splitlines()) == 1 and "insightflow repair" in out.stderr
        assert "unexpected" not in out.stderr and "Traceback" not in out.stderr
    assert sorted(p.relative_to(root) for p in (root / "warehouse").rglob("*")) == warehouse  # nothing written
    out = insightflow("repair", lake=root)
    assert out.returncode == 0 and "registered" in out.stdout and "marts.fact_sales" in out.stdout
    lake = Lakehouse(root)
    assert lake.kpis() == figures
    assert [r.status for r in lake.history()] == ["success"], lake.history()
    assert lake.run(write_export(tmp_path / "again")).status == "success"
    assert all(f.startswith(str(root)) for n in lake.catalog.table_names() for f in lake.catalog.resolve(n).files)
    assert len(Lakehouse(template).history()) == 1  # the lake it was copied from is untouched


def test_repair_from_the_backup(published: tuple[Path, dict], tmp_path: Path) -> None:
    template, figures = published
    root = tmp_path / "lake"
    shutil.copytree(template, root)
    _break(root / "catalog.db", "corrupted")
    out = insightflow("repair", "--from-backup", lake=root)
    assert out.returncode == 0 and "restored the catalog from catalog.db.bak" in out.stdout
    assert Lakehouse(root).kpis() == figures
    assert list(root.glob("catalog.db.broken-*"))


def test_a_sound_catalog_is_left_alone(published: tuple[Path, dict], tmp_path: Path) -> None:
    template, _ = published
    shutil.copytree(template, tmp_path / "lake")
    out = insightflow("repair", lake=tmp_path / "lake")
    assert out.returncode == 0 and "nothing to repair" in out.stdout
