"""The synthetic export: determinism, exact format, integrity, sizes, KPIs, defects, arguments."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import duckdb
import pytest

from insightflow.contracts.sources import load_contracts
from insightflow.errors import UsageError
from insightflow.generate import GenerateResult, generate
from tests.generate.kpis import (
    REFERENCE,
    REFERENCE_CATEGORIES,
    REFERENCE_SEGMENTS,
    category_shares,
    measured_kpis,
    segment_shares,
)

SMALL = 0.05
SOURCES = ("customers", "products", "orders", "deliveries")


@pytest.fixture(scope="module")
def scale_one(tmp_path_factory: pytest.TempPathFactory) -> GenerateResult:
    return generate(tmp_path_factory.mktemp("scale-one"), scale=1.0, seed=42)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> GenerateResult:
    return generate(tmp_path_factory.mktemp("small"), scale=SMALL, seed=7)


def _digests(result: GenerateResult) -> dict[str, str]:
    return {s: hashlib.sha256(p.read_bytes()).hexdigest() for s, p in result.files.items()}


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _views(result: GenerateResult) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for source, path in result.files.items():
        con.execute(
            f"CREATE VIEW {source} AS SELECT * FROM read_csv({_literal(path)}, header = true)"
        )
    return con


def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", scale=SMALL, seed=3, dirty=0.02)
    again = generate(tmp_path / "b", scale=SMALL, seed=3, dirty=0.02)
    other = generate(tmp_path / "c", scale=SMALL, seed=4, dirty=0.02)
    assert _digests(first) == _digests(again)
    assert first.manifest.read_bytes() == again.manifest.read_bytes()
    assert all(
        _digests(first)[s] != _digests(other)[s] for s in ("customers", "orders", "deliveries")
    )


def test_files_have_the_exact_format_of_the_export(small: GenerateResult) -> None:
    contracts = load_contracts()
    for source in SOURCES:
        data = small.files[source].read_bytes()
        assert data.startswith(b"\xef\xbb\xbf"), source
        text = data[3:].decode("utf-8")
        assert not text.endswith("\n"), f"{source} must have no final newline"
        assert "\n" not in text.replace("\r\n", ""), f"{source} must use CRLF line ends only"
        header = text.split("\r\n", 1)[0]
        assert tuple(header.split(",")) == contracts[source].headers
    names = [p.name for p in small.files.values()]
    assert names == [
        "CustomerDetails.csv",
        "ProductDetails.csv",
        "OrderDetails.csv",
        "DeliveryDetails.csv",
    ]

    con = _views(small)
    con.execute(
        "CREATE VIEW raw_deliveries AS SELECT * FROM read_csv("
        f"{_literal(small.files['deliveries'])}, all_varchar = true)"
    )
    dates = [
        r[0] for r in con.execute("SELECT DISTINCT shipping_date FROM raw_deliveries").fetchall()
    ]
    assert all(re.fullmatch(r"[1-9]\d?/[1-9]\d?/1[5-8]", d) for d in dates)
    assert any(re.fullmatch(r"\d/\d/\d\d", d) for d in dates), "no unpadded single-digit dates"
    con.execute(
        "CREATE VIEW raw_customers AS SELECT * FROM read_csv("
        f"{_literal(small.files['customers'])}, all_varchar = true)"
    )
    zips = {
        r[0] for r in con.execute("SELECT DISTINCT customer_zipcode FROM raw_customers").fetchall()
    }
    assert "725" in zips and not any(z and z.startswith("0") for z in zips)
    countries = {
        r[0] for r in con.execute("SELECT DISTINCT customer_county FROM raw_customers").fetchall()
    }
    assert countries == {"EE. UU.", "Puerto Rico"}
    # DISCOUNT_PERCENTAGE is a dollar amount: price x quantity x rate.
    off = con.execute(
        "SELECT count(*) FROM orders WHERE abs(discount_percentage - "
        "product_price * order_quantity * discount_rate) > 0.01"
    ).fetchone()[0]
    assert off == 0
    noisy = con.execute(
        "SELECT count(*) FROM read_csv(?, all_varchar = true) WHERE product_price LIKE '%.%______'",
        [str(small.files["orders"])],
    ).fetchone()[0]
    assert noisy > 0, "money carries the export's float noise"


def test_scale_one_has_the_export_quirks(scale_one: GenerateResult) -> None:
    con = duckdb.connect()
    con.execute(
        "CREATE VIEW c AS SELECT * FROM read_csv("
        f"{_literal(scale_one.files['customers'])}, all_varchar = true)"
    )
    shifted = con.execute(
        "SELECT count(*) FROM c WHERE customer_zipcode IS NULL "
        "AND regexp_matches(customer_state, '^[0-9]{3,5}$') "
        "AND regexp_matches(customer_city, '^[A-Z]{2}$')"
    ).fetchone()[0]
    named = con.execute("SELECT count(*) FROM c WHERE customer_lname IS NULL").fetchone()[0]
    below_10k = con.execute(
        "SELECT count(*) FROM c WHERE CAST(customer_zipcode AS INT) < 10000"
    ).fetchone()[0]
    assert (shifted, named) == (3, 8)
    assert below_10k > 5000
    spaced = scale_one.files["products"].read_text("utf-8-sig")
    assert re.search(r", \r\n|[^ ] ,", spaced), "some names keep a trailing space"
    assert "As Seen on  TV!" in spaced


def test_referential_integrity(small: GenerateResult) -> None:
    con = _views(small)
    assert (
        con.execute(
            "SELECT count(*) FROM orders "
            "WHERE order_customer_id NOT IN (SELECT customer_id FROM customers)"
        ).fetchone()[0]
        == 0
    )
    assert (
        con.execute(
            "SELECT count(*) FROM orders "
            "WHERE order_product_id NOT IN (SELECT product_id FROM products)"
        ).fetchone()[0]
        == 0
    )
    per_order = con.execute(
        "SELECT max(c), max(p), max(s) FROM (SELECT order_id, count(DISTINCT order_customer_id) c, "
        "count(DISTINCT payment_type) p, count(DISTINCT order_status) s FROM orders GROUP BY 1)"
    ).fetchone()
    assert per_order == (1, 1, 1)
    assert (
        con.execute(
            "SELECT count(*) - count(DISTINCT (order_id, order_product_id)) FROM orders"
        ).fetchone()[0]
        == 0
    )
    deliveries, distinct, gaps = con.execute(
        "SELECT count(*), count(DISTINCT order_id), max(order_id) - count(*) FROM deliveries"
    ).fetchone()
    assert deliveries == distinct and gaps > 0
    assert (
        con.execute(
            "SELECT count(*) FROM (SELECT DISTINCT order_id FROM orders) o FULL JOIN deliveries d "
            "USING (order_id) WHERE o.order_id IS NULL OR d.order_id IS NULL"
        ).fetchone()[0]
        == 0
    )
    assert (
        con.execute("SELECT count(*) - count(DISTINCT customer_id) FROM customers").fetchone()[0]
        == 0
    )


@pytest.mark.parametrize("fixture_name, scale", [("small", SMALL), ("scale_one", 1.0)])
def test_sizes_follow_the_scale(
    fixture_name: str, scale: float, request: pytest.FixtureRequest
) -> None:
    result: GenerateResult = request.getfixturevalue(fixture_name)
    reference = {"customers": 20_652, "products": 118, "orders": 159_763, "deliveries": 65_752}
    assert result.rows["products"] == 118
    for source in ("customers", "orders", "deliveries"):
        assert result.rows[source] == pytest.approx(reference[source] * scale, rel=0.03), source
    assert result.manifest is None and result.defects == 0


def test_scale_one_kpis_match_the_reference_within_3_percent(scale_one: GenerateResult) -> None:
    folder = scale_one.files["orders"].parent
    measured = measured_kpis(folder)
    for name, expected in REFERENCE.items():
        assert measured[name] == pytest.approx(expected, rel=0.03), name
    segments = segment_shares(folder)
    for name, expected in REFERENCE_SEGMENTS.items():
        assert segments[name] == pytest.approx(expected, rel=0.03), name
    categories = category_shares(folder)
    for name, expected in REFERENCE_CATEGORIES.items():
        assert categories[name] == pytest.approx(expected, rel=0.03), name


def test_zero_scale_dirty_and_unwritable_folder_are_usage_errors(tmp_path: Path) -> None:
    for scale in (0, -1, float("nan"), float("inf")):
        with pytest.raises(UsageError, match="scale"):
            generate(tmp_path / "out", scale=scale)
    for dirty in (-0.1, 1.5):
        with pytest.raises(UsageError, match="dirty"):
            generate(tmp_path / "out", scale=SMALL, dirty=dirty)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(UsageError, match="output folder"):
        generate(blocker / "out", scale=SMALL)
    with pytest.raises(UsageError, match="seed"):
        generate(tmp_path / "out", scale=SMALL, seed=-1)


def test_progress_bar_and_tiny_scale(tmp_path: Path) -> None:
    result = generate(tmp_path, scale=0.001, seed=1, progress=True)
    assert result.rows["customers"] >= 1 and result.rows["deliveries"] >= 1
    assert all(path.exists() for path in result.files.values())


def test_a_daily_series_grows_changes_and_repeats_byte_for_byte(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from insightflow.cli import app

    result = CliRunner().invoke(app, ["generate", "--out", str(tmp_path / "a"), "--days", "3", "--scale", "0.05"])
    assert result.exit_code == 0, result.output
    days = sorted((tmp_path / "a").iterdir())
    assert [d.name for d in days] == ["day-01", "day-02", "day-03"]
    lines = [(d / "OrderDetails.csv").read_bytes().split(b"\r\n") for d in days]
    for day in days:  # the export's own format, every day
        data = (day / "OrderDetails.csv").read_bytes()
        assert data.startswith(b"\xef\xbb\xbf") and not data.endswith(b"\n")
    assert len(lines[0]) < len(lines[1]) < len(lines[2])  # new orders every day
    growth = (len(lines[2]) - len(lines[1])) / len(lines[1])
    assert 0.002 < growth < 0.01
    changed = sum(a != b for a, b in zip(lines[1], lines[2], strict=False))
    assert 0.003 * len(lines[1]) < changed < 0.05 * len(lines[1])  # about 1 % of the lines change
    assert (days[0] / "CustomerDetails.csv").read_bytes() == (days[2] / "CustomerDetails.csv").read_bytes()
    CliRunner().invoke(app, ["generate", "--out", str(tmp_path / "b"), "--days", "3", "--scale", "0.05"])
    for day in days:
        for file in day.iterdir():
            assert file.read_bytes() == (tmp_path / "b" / day.name / file.name).read_bytes()
    bad = CliRunner().invoke(app, ["generate", "--out", str(tmp_path / "c"), "--days", "0"])
    assert bad.exit_code != 0
