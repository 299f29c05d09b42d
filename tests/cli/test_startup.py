"""What a command costs before and after its work: the imports it pays for and how it leaves.

Speed itself is measured by benchmarks/pipeline_benchmark.py; these tests hold the mechanisms.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import insightflow.query
from insightflow.cli import main
from insightflow.lake import LakeCatalog
from insightflow.lake.layout import LakeLayout


def _modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code``."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_the_cli_does_not_import_the_query_layer_it_does_not_use() -> None:
    # `insightflow run` needs the roles' names only; the reader (pyarrow.compute, sqlglot) is
    # imported by the commands that query.
    modules = _modules_after("import insightflow.cli")
    assert "insightflow.query.access" in modules
    assert not {"insightflow.query.reader", "insightflow.query.kpis", "insightflow.query.service"} & modules


def test_every_name_of_the_query_package_resolves() -> None:
    for name in insightflow.query.__all__:
        value = getattr(insightflow.query, name)
        assert getattr(value, "__name__", name) == name or name.isupper(), name
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        insightflow.query.nothing  # noqa: B018


def test_a_finished_command_freezes_what_it_leaves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Leaving, the interpreter would search every object for cycles (~0.4 s after a run).
    gc.unfreeze()
    monkeypatch.setattr(sys, "argv", ["insightflow", "tables", "--lake", str(tmp_path / "lake")])
    try:
        with pytest.raises(SystemExit):
            main()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_a_failed_command_freezes_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gc.unfreeze()
    monkeypatch.setattr(sys, "argv", ["insightflow", "run", str(tmp_path / "missing"), "--lake", str(tmp_path / "lake")])
    try:
        with pytest.raises(SystemExit) as exit:
            main()
        assert exit.value.code != 0
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_the_catalog_opens_on_one_background_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    catalog = LakeCatalog(LakeLayout(tmp_path / "lake"))
    catalog.prepare()
    opening, release = threading.Event(), threading.Event()
    real_open = LakeCatalog._open

    def slow_open(self: LakeCatalog):  # noqa: ANN202 - still opening when the second call comes
        opening.set()
        release.wait(30)
        return real_open(self)

    monkeypatch.setattr(LakeCatalog, "_open", slow_open)
    catalog.open_in_background()
    assert opening.wait(30)
    catalog.open_in_background()  # the run and its ingest both ask: one opening
    openers = [t for t in threading.enumerate() if t.name == "insightflow-catalog-open"]
    release.set()
    assert len(openers) == 1
    assert catalog.table_names() == []  # the first use waits for the opening, then works
    for thread in openers:
        thread.join(timeout=30)
