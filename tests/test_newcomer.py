"""What a newcomer meets in the first hour: one clear answer, never a silent wrong one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from insightflow import __version__
from tests.exports import write_export
from tests.test_cli import insightflow


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("newcomer")
    export = write_export(root / "export")
    out = insightflow("run", str(export), lake=root / "lake")  # the folder as an argument, as crawl takes it
    assert out.returncode == 0, out.stderr
    return root / "lake"


def test_run_takes_the_folder_as_an_argument_and_says_when_nothing_is_new(lake: Path) -> None:
    again = insightflow("run", str(lake.parent / "export"), lake=lake)
    assert again.returncode == 0 and "nothing new" in again.stdout
    both = insightflow("run", str(lake.parent / "export"), "--source", "/elsewhere", lake=lake)
    assert both.returncode == 2 and "give the exports once" in both.stderr


def test_version() -> None:
    out = subprocess.run([sys.executable, "-m", "insightflow.cli", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == f"insightflow {__version__}"


@pytest.mark.parametrize("command", [["tables"], ["history"], ["audit"], ["snapshots", "marts.fact_sales"],
                                     ["sql", "SELECT 1"], ["kpis"], ["quarantine"], ["verify"]])
def test_reading_a_path_with_no_lake_says_so_and_makes_nothing(tmp_path: Path, command: list[str]) -> None:
    out = insightflow(*command, lake=tmp_path / "nowhere")
    assert out.returncode != 0 and len(out.stderr.splitlines()) == 1
    assert "no lake at" in out.stderr or "no published run" in out.stderr
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize(("option", "value", "said"), [
    ("--shipping-mode", "same day", None),  # matched whatever its case
    ("--segment", "home  office", None),
    ("--category", "Fishng", "did you mean 'Fishing'?"),
    ("--shipping-mode", "Overnight", "no shipping mode 'Overnight'"),
    ("--year", "1999", "no year 1999 in the published data (the years: 2015 to 2018)"),
])
def test_filter_values_are_matched_or_refused_with_the_close_ones(lake: Path, option: str, value: str,
                                                                  said: str | None) -> None:
    out = insightflow("kpis", "--format", "json", option, value, lake=lake)
    if said is None:
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["orders_placed"] > 0
    else:
        assert out.returncode == 2 and said in out.stderr and len(out.stderr.splitlines()) == 1


def test_a_file_export_writes_every_row_and_0_means_no_limit(lake: Path, tmp_path: Path) -> None:
    statement = "SELECT * FROM (SELECT unnest(range(25000)) AS n)"
    out = insightflow("sql", statement, "--format", "csv", "--out", str(tmp_path / "all.csv"), lake=lake)
    assert out.returncode == 0 and "cut" not in out.stderr
    assert len((tmp_path / "all.csv").read_text().splitlines()) == 25_001
    unlimited = insightflow("sql", statement, "--format", "csv", "--max-rows", "0", lake=lake)
    assert len(unlimited.stdout.splitlines()) == 25_001 and "cut" not in unlimited.stderr
    cut = insightflow("sql", statement, "--format", "csv", lake=lake)
    assert len(cut.stdout.splitlines()) == 10_001 and "cut to 10,000 rows" in cut.stderr


def test_counts_agree_and_quarantine_is_shown_with_the_checks(tmp_path: Path) -> None:
    from tests.exports import ORDERS

    bad = [[*ORDERS[0][:3], "0", *ORDERS[0][4:]], [*ORDERS[1][:3], "x", *ORDERS[1][4:]], *ORDERS[2:]]
    export = write_export(tmp_path / "export", {"orders": bad})  # a quantity below one, one not a number
    lake = tmp_path / "lake"
    assert insightflow("run", str(export), lake=lake).returncode == 0
    history = json.loads(insightflow("history", "--format", "json", lake=lake).stdout)[-1]
    steps = {s["step"]: s for s in history["steps"]}
    assert steps["crawl"]["rows"] == steps["ingest"]["rows_in"] == steps["ingest"]["rows"]
    quality = insightflow("quality", lake=lake)
    assert "quarantined by this run: curated.order_dim 2" in quality.stdout
    summary = json.loads(insightflow("quarantine", "--summary", "--format", "json", lake=lake).stdout)
    reasons = {(r["table"], r["reason"]): r["rows"] for r in summary}
    assert reasons[("curated.order_dim", "quantity_below_one")] == 1
    assert reasons[("curated.order_dim", "invalid_value")] == 1
    rows = json.loads(insightflow("quarantine", "--format", "json", lake=lake).stdout)
    invalid = next(r for r in rows if r["reason"] == "invalid_value")
    assert invalid["invalid"] == {"order_quantity": "x"}  # JSON values are JSON, not JSON text
    assert isinstance(next(r for r in rows if r["reason"] == "quantity_below_one")["record"], dict)


def test_tokens_are_listed_and_revoked(tmp_path: Path) -> None:
    from insightflow.api import TokenStore, tokens_path
    from insightflow.lake import LakeLayout

    lake = tmp_path / "lake"
    anna = insightflow("token", "add", "anna", "--role", "analyst", lake=lake).stdout.strip()
    vera = insightflow("token", "add", "vera", "--pii", lake=lake).stdout.strip()
    listed = insightflow("token", "list", lake=lake)
    assert listed.returncode == 0 and "anna" in listed.stdout and "analyst" in listed.stdout
    assert anna not in listed.stdout and "2 tokens" in listed.stdout
    assert insightflow("token", "revoke", "anna", lake=lake).returncode == 0
    store = TokenStore(tokens_path(LakeLayout.resolve(lake)))
    assert store.principal(anna) is None
    assert store.principal(vera).name == "vera" and store.principal(vera).pii
    unknown = insightflow("token", "revoke", "anna", lake=lake)
    assert unknown.returncode == 2 and "no token named 'anna'" in unknown.stderr and "vera" in unknown.stderr


def test_a_table_is_named_the_same_way_everywhere(lake: Path) -> None:
    short = insightflow("snapshots", "fact_sales", "--format", "json", lake=lake)
    assert short.returncode == 0 and json.loads(short.stdout)
    for command in (["snapshots", "fact_sale"], ["rollback", "fact_sale", "1"], ["quarantine", "fact_sale"]):
        out = insightflow(*command, lake=lake)
        assert out.returncode == 3 and len(out.stderr.splitlines()) == 1, (command, out.stderr)
    out = insightflow("snapshots", "fact_sale", lake=lake)
    assert "no table 'fact_sale'" in out.stderr and "did you mean" in out.stderr and "marts.fact_sales" in out.stderr


def test_the_demo_lake_is_not_mixed_with_real_exports_and_can_start_over(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    (lake).mkdir()
    (lake / "insightflow.toml").write_text("[lake]\nkeep_snapshots = 5\n")
    assert insightflow("demo", lake=lake).returncode == 0
    demo_figures = json.loads(insightflow("kpis", "--format", "json", lake=lake).stdout)
    export = write_export(tmp_path / "export")
    mixed = insightflow("run", str(export), lake=lake)
    assert mixed.returncode == 3 and "holds the demo's synthetic data" in mixed.stderr and "insightflow reset" in mixed.stderr
    assert json.loads(insightflow("kpis", "--format", "json", lake=lake).stdout) == demo_figures
    assert insightflow("reset", lake=lake).returncode == 2  # not without --yes when nobody can be asked
    out = insightflow("reset", "--yes", lake=lake)
    assert out.returncode == 0 and "catalog.db" in out.stdout
    assert sorted(p.name for p in lake.iterdir() if p.name != ".lock") == ["insightflow.toml"]
    assert insightflow("run", str(export), lake=lake).returncode == 0
    assert json.loads(insightflow("kpis", "--format", "json", lake=lake).stdout)["orders_placed"] == 5


def test_a_mistyped_source_is_refused_before_a_run_is_recorded(lake: Path) -> None:
    before = json.loads(insightflow("history", "--format", "json", lake=lake).stdout)
    out = insightflow("run", str(lake.parent / "exprot"), lake=lake)
    assert out.returncode == 2 and "exprot: no such folder" in out.stderr
    assert json.loads(insightflow("history", "--format", "json", lake=lake).stdout) == before


@pytest.fixture(scope="module")
def dirty_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lake of a small synthetic export with defects: every listing has rows to show."""
    root = tmp_path_factory.mktemp("dirty")
    lake = root / "lake"
    assert insightflow("generate", "--out", str(root / "export"), "--scale", "0.02", "--dirty", "0.05",
                       lake=lake).returncode == 0
    assert insightflow("run", str(root / "export"), lake=lake).returncode == 0
    assert insightflow("kpis", lake=lake).returncode == 0  # an audit entry
    assert insightflow("token", "add", "vera", "--role", "analyst", lake=lake).returncode == 0
    return lake


LISTINGS = [["tables"], ["crawl", "{export}"], ["history"], ["quarantine"], ["quarantine", "--summary"],
            ["audit"], ["snapshots", "fact_sales"], ["kpis"], ["kpis", "on_time_by_mode"], ["kpis", "--list"],
            ["quality"], ["token", "list"], ["ingest", "{export}"], ["verify"]]


def _command(dirty_lake: Path, command: list[str]) -> list[str]:
    return [part.format(export=dirty_lake.parent / "export") for part in command]


def _no_json_text(value: object) -> None:
    """No value is JSON written as a string inside the JSON."""
    if isinstance(value, dict):
        [_no_json_text(v) for v in value.values()]
    elif isinstance(value, list):
        [_no_json_text(v) for v in value]
    elif isinstance(value, str) and value[:1] in "[{":
        with pytest.raises(ValueError):
            json.loads(value)


@pytest.mark.parametrize("command", LISTINGS, ids=" ".join)
def test_every_listing_writes_table_json_and_csv(dirty_lake: Path, command: list[str]) -> None:
    import csv
    import io

    command = _command(dirty_lake, command)
    table = insightflow(*command, "--format", "table", lake=dirty_lake)
    data = json.loads(insightflow(*command, "--format", "json", lake=dirty_lake).stdout)
    rows = list(csv.reader(io.StringIO(insightflow(*command, "--format", "csv", lake=dirty_lake).stdout)))
    assert table.returncode == 0 and table.stdout.strip(), table.stderr
    assert data and rows[0] and all(len(r) == len(rows[0]) for r in rows), rows[:3]
    _no_json_text(data)
    if isinstance(data, list) and command[0] not in ("history", "verify"):  # history's CSV: one row per step
        assert len(rows) - 1 == len(data)


@pytest.mark.parametrize("command", LISTINGS, ids=" ".join)
def test_tables_fit_100_columns_and_cut_no_value(dirty_lake: Path, command: list[str]) -> None:
    command = _command(dirty_lake, command)
    out = insightflow(*command, lake=dirty_lake, env={"COLUMNS": "100"})
    assert out.returncode == 0, out.stderr
    too_long = [line for line in out.stdout.splitlines() if len(line) > 100]
    assert not too_long, too_long
    assert "…" not in out.stdout  # Rich's mark of a cut cell
    words = out.stdout.split()
    if command[0] == "history":  # run ids and step names are never split across lines
        runs = json.loads(insightflow("history", "--format", "json", lake=dirty_lake).stdout)
        assert all(r["run_id"] in words and all(s["step"] in words for s in r["steps"]) for r in runs)
    if command[0] == "tables":
        tables = json.loads(insightflow("tables", "--format", "json", lake=dirty_lake).stdout)
        assert all(t["name"] in words for t in tables)


def test_wide_shows_the_columns_a_table_leaves_out(dirty_lake: Path) -> None:
    tables = json.loads(insightflow("tables", "--format", "json", lake=dirty_lake).stdout)
    narrow = insightflow("tables", lake=dirty_lake, env={"COLUMNS": "100"}).stdout
    wide = insightflow("tables", "--wide", lake=dirty_lake, env={"COLUMNS": "160"}).stdout
    snapshot_ids = [str(t["snapshot_id"]) for t in tables]
    assert not any(s in narrow for s in snapshot_ids) and "more column with --wide (snapshot)" in narrow
    assert all(s in wide.split() for s in snapshot_ids) and "--wide" not in wide
    history = insightflow("history", "--wide", lake=dirty_lake, env={"COLUMNS": "160"}).stdout
    assert "attempts" in history and "ratio" in history
