"""End to end: `insightflow dashboard` served for real, driven in headless Chromium by Playwright.

Uses Debian's /usr/bin/chromium (``.ci/run`` installs it); Playwright's own browser download is
never used. In CI (``CI=true``) a missing browser or Playwright fails the test instead of skipping
it. Set ``INSIGHTFLOW_UPDATE_SCREENSHOT=1`` to rewrite ``docs/dashboard.png`` (the README's).

First render is timed from the navigation until all nine cards show their values and each of the
seven charts has drawn its data and its title. "Warm" means the server has served the page once and
the browser comes back as a returning visitor does: with a regular profile, so its HTTP cache and
V8's code cache hold Streamlit's and Plotly's JavaScript. A private window keeps no code cache for
the 4.7 MB Plotly bundle and parses it again on every visit; it is timed too, for comparison.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from insightflow import Lakehouse
from tests.browsers import CHROMIUM, CHROMIUM_ARGS
from tests.dashboard.conftest import serve_dashboard
from tests.dashboard.test_app import REFERENCE_CARDS

SCREENSHOT = Path(__file__).parents[2] / "docs" / "dashboard.png"
VIEWPORT = {"width": 1280, "height": 800}
CARD_VALUE = '[data-testid="stMetricValue"]'
# Every chart has drawn its data and its title: each Plotly chart holds three `.main-svg` layers,
# so counting those alone would already be satisfied by three charts' empty frames.
CHARTS_DRAWN = (
    "[...document.querySelectorAll('[data-testid=\"stPlotlyChart\"] .js-plotly-plot')]"
    ".filter(g => g.querySelector('.main-svg .trace') && g.querySelector('.main-svg .gtitle')).length >= 7"
)

pytestmark = pytest.mark.browser


@pytest.fixture
def server(reference_lake: Lakehouse, tmp_path: Path) -> Iterator[str]:
    """`insightflow dashboard --port N` on the reference lake until the test ends; its base URL."""
    with serve_dashboard(reference_lake.layout.root, tmp_path / "dashboard.log", tmp_path) as url:
        yield url


@pytest.fixture
def returning_visitor(playwright, tmp_path: Path) -> Iterator:
    """Chromium with a regular profile of its own (HTTP and code caches on disk), like a user's browser."""
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, viewport=VIEWPORT,
    )
    yield context
    context.close()


def test_the_dashboard_in_a_real_browser(server: str, browser, returning_visitor, reference_lake: Lakehouse,
                                         tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from insightflow.dashboard.formatting import count, money
    from insightflow.query import KpiFilters

    context = returning_visitor
    page = context.new_page()
    page.set_default_timeout(120_000)

    cold = _load(page, server)[1]  # the server computes and caches the figures on this first visit
    loads = [_load(page, server) for _ in range(5)]  # warm: a returning visitor, figures cached
    first_cards, first_renders = [c for c, _ in loads], [r for _, r in loads]
    assert _cards(page) == REFERENCE_CARDS

    private = browser.new_context(viewport=VIEWPORT)
    private_page = private.new_page()
    private_page.set_default_timeout(120_000)
    _load(private_page, server)
    private_renders = [_load(private_page, server)[1] for _ in range(3)]
    private.close()

    year_2017 = reference_lake.kpis(filters=KpiFilters(year=2017))
    year_2016 = reference_lake.kpis(filters=KpiFilters(year=2016))
    cold_change = _choose(page, "Year", "2017", count(year_2017["products_ordered"]))
    assert _cards(page)["Gross Sales"] == money(year_2017["gross_sales"])
    assert "year=2017" in page.url  # the filter is in the address, so the view can be shared
    changes = []
    for year, figures in [(2016, year_2016), (2017, year_2017)] * 2:  # both cached after the first
        changes.append(_choose(page, "Year", str(year), count(figures["products_ordered"])))
    assert _cards(page)["Net Profit"] == money(year_2017["net_profit"])

    shared = context.new_page()
    shared.goto(f"{server}/?year=2016")
    shared.wait_for_selector(CARD_VALUE)
    shared.wait_for_function(
        f"[...document.querySelectorAll('{CARD_VALUE}')].some(e => e.innerText === '{count(year_2016['products_ordered'])}')"
    )
    shared.close()

    _load(page, server)
    path = SCREENSHOT if os.environ.get("INSIGHTFLOW_UPDATE_SCREENSHOT") == "1" else tmp_path / "dashboard.png"
    _screenshot(page, path)
    _assert_not_blank(path)
    warm_change = statistics.median(changes[1:])
    with capsys.disabled():
        print(
            f"\ndashboard browser timings (reference data, scale 1, 1280x800, Chromium headless): "
            f"cold first render {cold:.2f} s; warm first render median {statistics.median(first_renders):.2f} s "
            f"{_list(first_renders)} (cards shown after {statistics.median(first_cards):.2f} s); in a private window "
            f"median {statistics.median(private_renders):.2f} s {_list(private_renders)}; "
            f"filter change to new figures {cold_change * 1000:.0f} ms; warm filter change "
            f"median {warm_change * 1000:.0f} ms {_list(changes)}; screenshot {path}"
        )


def _load(page, url: str) -> tuple[float, float]:
    """Open the dashboard; seconds until the cards show, and until all seven charts are drawn."""
    started = time.perf_counter()
    page.goto(url, wait_until="commit")
    page.wait_for_selector(CARD_VALUE)
    cards = time.perf_counter() - started
    page.wait_for_function(f"document.querySelectorAll('{CARD_VALUE}').length >= 9 && {CHARTS_DRAWN}")
    return cards, time.perf_counter() - started


def _choose(page, label: str, option: str, products_ordered: str) -> float:
    """Pick ``option`` in the ``label`` filter; seconds until the Products Ordered card shows the new figure."""
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first
    box.click()
    started = time.perf_counter()
    page.locator('[role="option"]').filter(has_text=option).first.click()
    page.wait_for_function(
        f"[...document.querySelectorAll('{CARD_VALUE}')][0].innerText === '{products_ordered}'"
    )
    return time.perf_counter() - started


def _cards(page) -> dict[str, str]:
    labels = page.locator('[data-testid="stMetricLabel"]').all_inner_texts()
    values = page.locator(CARD_VALUE).all_inner_texts()
    return {label.strip(): value.strip() for label, value in zip(labels, values, strict=True)}


def _screenshot(page, path: Path) -> None:
    """The whole page at 1280 wide: Streamlit scrolls an inner element, so grow the window to it."""
    height = page.evaluate(
        "Math.max(...[...document.querySelectorAll('[data-testid=\"stMain\"], [data-testid=\"stAppViewContainer\"]')]"
        ".map(e => e.scrollHeight), document.body.scrollHeight)"
    )
    page.set_viewport_size({"width": VIEWPORT["width"], "height": max(VIEWPORT["height"], int(height))})
    page.wait_for_timeout(1500)  # let Plotly re-lay out the charts to the new window
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(VIEWPORT)


def _assert_not_blank(path: Path) -> None:
    from PIL import Image, ImageStat

    with Image.open(path) as image:
        assert image.width == VIEWPORT["width"] and image.height >= VIEWPORT["height"]
        spread = ImageStat.Stat(image.convert("L")).stddev[0]
        colours = len(image.convert("RGB").getcolors(maxcolors=1 << 20) or [])
    assert spread > 10 and colours > 200, f"the screenshot {path} looks blank ({spread=:.1f}, {colours=})"
    assert path.stat().st_size > 50_000


def _list(seconds: list[float]) -> str:
    return "[" + ", ".join(f"{s * 1000:.0f} ms" if s < 1 else f"{s:.2f} s" for s in seconds) + "]"
