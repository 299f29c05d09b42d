"""Values printed by the CLI are data: markup, emoji codes and escape sequences in them print as text."""

from __future__ import annotations

from pathlib import Path

import pytest

from insightflow import Lakehouse
from insightflow.console import visible
from tests.exports import PRODUCTS, write_export
from tests.test_cli import insightflow

MARKUP = "[/x]Cleats"


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("markup")
    products = [row[:5] + [MARKUP] if row[5] == "Cleats" else row for row in PRODUCTS]
    export = write_export(folder / "export", {"products": products})
    assert insightflow("run", "--source", str(export), lake=folder / "lake").returncode == 0
    return folder / "lake"


def test_a_category_that_looks_like_markup_prints_as_it_is(lake: Path) -> None:
    out = insightflow("kpis", "profit_margin_by_category", lake=lake)
    assert out.returncode == 0, out.stderr
    assert MARKUP in out.stdout
    out = insightflow("sql", "SELECT DISTINCT category_name FROM curated.product_dim ORDER BY 1", lake=lake)
    assert out.returncode == 0 and MARKUP in out.stdout


@pytest.mark.parametrize(("select", "shown"), [
    ('SELECT 1 AS "[white on white]hidden"', "[white on white]hidden"),
    ("SELECT 'root:x:0' AS passwd", "root:x:0"),
    ("SELECT chr(27) || '[31mred' AS ansi", "\\x1b[31mred"),
    ("SELECT 'a' || chr(7) || chr(155) || 'b' AS bell", "a\\x07\\x9bb"),
])
def test_sql_results_print_as_text(lake: Path, select: str, shown: str) -> None:
    out = insightflow("sql", select, lake=lake)
    assert out.returncode == 0, out.stderr
    assert shown in out.stdout
    assert "\x1b" not in out.stdout and "❌" not in out.stdout


def test_the_audit_log_prints_what_was_asked_as_text(lake: Path) -> None:
    Lakehouse(lake).queries.audit.append(who="api:[/x]", role="viewer", action="GET /[/x]\x1b[2J", outcome="ok")
    out = insightflow("audit", "--last", "5", lake=lake)
    assert out.returncode == 0, out.stderr
    assert "[/x]" in out.stdout and "\x1b" not in out.stdout


def test_an_error_naming_a_value_prints_it_as_text(lake: Path) -> None:
    out = insightflow("snapshots", "marts.[bold]x\x1b[2J", lake=lake)
    assert out.returncode != 0
    assert "\x1b" not in out.stderr and "\\x1b" in out.stderr


def test_visible_leaves_text_alone_and_shows_controls() -> None:
    assert visible("Muñoz\tok\n") == "Muñoz\tok\n"
    assert visible("\x00\x1b\x7f\x85") == "\\x00\\x1b\\x7f\\x85"
