"""The dashboard's building blocks without Streamlit: number formats, bound drill-down SQL, URL filters."""

from __future__ import annotations

import pytest

from insightflow.dashboard import command, filters
from insightflow.dashboard.data import FilterOptions, bind
from insightflow.dashboard.formatting import count, days, money, percent
from insightflow.query import KpiFilters

OPTIONS = FilterOptions(years=[2015, 2016], shipping_modes=["Same Day"], categories=["Men's Footwear"],
                        segments=["Consumer"])


def test_numbers_are_written_like_the_original() -> None:
    assert money(32314681.23) == "$32,314,681.23"
    assert money(3262338.0) == "$3,262,338.00"
    assert money(-1234.5) == "-$1,234.50"
    assert count(334107) == "334,107"
    assert percent(0.462361) == "46.2%"
    assert days(3.934) == "3.93 days"


def test_values_are_bound_as_literals_never_pasted() -> None:
    sql = bind("SELECT * FROM marts.fact_sales WHERE $category IS NULL OR category_name = $category "
               "AND year(shipping_date) = $year", {"category": "x' OR 1=1 --", "year": None})
    assert "'x'' OR 1=1 --'" in sql and "= NULL" in sql
    assert bind("SELECT $n", {"n": 2017}) == "SELECT 2017"


def test_filters_round_trip_through_the_url() -> None:
    wanted = KpiFilters(year=2016, category="Men's Footwear")
    assert filters.from_query(filters.to_query(wanted), OPTIONS) == (wanted, [])
    assert filters.from_query({"quarter": "5", "year": "abc"}, OPTIONS)[0] == KpiFilters()
    assert filters.describe(KpiFilters(year=2016, quarter=3)) == "2016 · Q3"


def test_the_server_listens_on_loopback_headless_without_usage_stats() -> None:
    line = command(8600)
    flags = dict(zip(line[5::2], line[6::2], strict=True))
    assert line[1:4] == ["-m", "streamlit", "run"]
    assert flags["--server.address"] == "127.0.0.1" and flags["--server.port"] == "8600"
    assert flags["--server.headless"] == "true" and flags["--browser.gatherUsageStats"] == "false"


@pytest.mark.parametrize("port", [0, 70000])
def test_a_bad_port_is_refused(port: int, tmp_path) -> None:
    from insightflow.dashboard import serve
    from insightflow.errors import UsageError

    with pytest.raises(UsageError, match="--port"):
        serve(tmp_path, port)
