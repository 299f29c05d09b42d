"""The dashboard's layout in a real browser, on a desktop window (1280×800) and a phone (390×844).

What a newcomer met in their first hour: a phone's first screen without a figure, bar values
turned on their side or shrunk to 6 px, tilted axis labels cut at the chart's edge, a grey
treemap with unreadable tiles, snapshot ids in the way, drill-down tables with mixed column
names and a selection that a reload forgot. Each test checks one of these at both sizes, on the
drawn page (Plotly's SVG, Streamlit's DOM), not on the figures' specs.

Set ``INSIGHTFLOW_UPDATE_SCREENSHOT=1`` to rewrite ``docs/dashboard-desktop.png`` and
``docs/dashboard-phone.png``.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from insightflow import Lakehouse
from insightflow.query import KpiFilters
from tests.dashboard.conftest import serve_dashboard
from tests.dashboard.test_browser import CARD_VALUE, CHARTS_DRAWN

pytestmark = pytest.mark.browser

DOCS = Path(__file__).parents[2] / "docs"
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
ORDER_LINE_COLUMNS = ["Order", "Shipped", "Shipping mode", "Segment", "Units", "Price", "Gross sales",
                      "Discount", "Net sales", "Profit", "Order size"]
MIN_TEXT_PX = 11  # the charts write 12-px text; Plotly's shrinking to fit went down to 6 px

# JavaScript helpers: the chart of a title, a text's lines, its size after Plotly's scale(), and
# whether a box lies within another (1 px of rounding allowed).
HELPERS = """
const chart = title => [...document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')]
  .find(g => (g.querySelector('.gtitle')?.textContent || '').startsWith(title));
const charts = () => [...document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')];
const lines = t => { const l = [...t.querySelectorAll('tspan.line')]; return (l.length ? l.map(x => x.textContent) : [t.textContent]).join(' '); };
const scale = t => { const m = /scale\\(([-\\d.e]+)/.exec(t.getAttribute('transform') || ''); return m ? parseFloat(m[1]) : 1; };
const rotation = t => { const m = /rotate\\(([-\\d.e]+)/.exec(t.getAttribute('transform') || ''); return m ? parseFloat(m[1]) : 0; };
const px = t => parseFloat(getComputedStyle(t).fontSize) * scale(t);
const within = (a, b) => a.left >= b.left - 1 && a.right <= b.right + 1 && a.top >= b.top - 1 && a.bottom <= b.bottom + 1;
const box = e => { const r = e.getBoundingClientRect(); return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width, height: r.height}; };
const shown = t => t && getComputedStyle(t).display !== 'none' && t.getBoundingClientRect().width > 0 && scale(t) > 0;
"""


@dataclass
class Window:
    name: str
    size: dict
    page: object

    @property
    def phone(self) -> bool:
        return self.name == "phone"

    def evaluate(self, body: str):
        """Run ``body`` (JavaScript statements ending in a ``return``) with the helpers in scope."""
        return self.page.evaluate(f"() => {{ {HELPERS} {body} }}")


@pytest.fixture(scope="module")
def served(reference_lake: Lakehouse, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One server on the reference lake for the module: these tests only read."""
    home = tmp_path_factory.mktemp("dashboard-layout")
    with serve_dashboard(reference_lake.layout.root, home / "dashboard.log", home) as url:
        yield url


@pytest.fixture(params=list(VIEWPORTS))
def window(request: pytest.FixtureRequest, browser) -> Iterator[Window]:
    context = browser.new_context(viewport=VIEWPORTS[request.param])
    page = context.new_page()
    page.set_default_timeout(120_000)
    yield Window(request.param, VIEWPORTS[request.param], page)
    context.close()


def _open(window: Window, url: str) -> None:
    """Load the page until every card and chart has drawn, and the fonts have settled."""
    window.page.goto(url)
    window.page.wait_for_function(f"document.querySelectorAll('{CARD_VALUE}').length >= 9 && {CHARTS_DRAWN}")
    window.page.evaluate("document.fonts.ready")
    window.page.wait_for_timeout(500)  # Plotly's responsive re-layout to the column's width


def test_a_card_shows_in_the_first_screen(window: Window, served: str) -> None:
    """The first screen holds figures, not five stacked filters: cards two a row on a phone, whole."""
    _open(window, served)
    cards = window.evaluate(f"""return [...document.querySelectorAll('{CARD_VALUE}')].map(e => ({{
        text: e.innerText, ...box(e),
        whole: [e, ...e.querySelectorAll('*')].every(d => d.scrollWidth <= d.clientWidth + 1)}}));""")
    height, width = window.size["height"], window.size["width"]
    in_first_screen = [c for c in cards if c["top"] >= 0 and c["bottom"] <= height and c["right"] <= width]
    assert in_first_screen, f"no card value in the first {width}x{height} screen: {cards[:2]}"
    assert all(c["whole"] for c in cards), [c["text"] for c in cards if not c["whole"]]
    per_row = 2 if window.phone else 4
    first_row = [c for c in cards[:4] if abs(c["top"] - cards[0]["top"]) < 2]
    assert len(first_row) == per_row, [c["text"] for c in first_row]


def test_bar_values_are_level_whole_and_inside_the_chart(window: Window, served: str) -> None:
    _open(window, served)
    labels = window.evaluate("""return charts().flatMap(g => {
        const frame = box(g.querySelector('.main-svg'));
        return [...g.querySelectorAll('.barlayer text.bartext')].map(t => ({
            chart: g.querySelector('.gtitle').textContent, text: t.textContent, angle: rotation(t), px: px(t),
            inside: within(box(t), frame)}));
    });""")
    assert len(labels) == 4 + 5 + 2, labels  # on-time bars, top 5 products, order sizes
    bad = [label for label in labels
           if abs(label["angle"]) > 0.5 or label["px"] < MIN_TEXT_PX or not label["inside"]]
    assert not bad, bad


def test_axis_labels_and_product_names_are_whole(window: Window, served: str, reference_lake: Lakehouse) -> None:
    """Tick labels neither tilted out of the chart nor cut; the Top-5 names as the data holds them.

    The export itself cuts product names at 45 characters ("Diamondback Women's Serene Classic
    Comfort Bi"): the chart can show them no longer than the lake holds them.
    """
    _open(window, served)
    ticks = window.evaluate("""return charts().flatMap(g => {
        const frame = box(g.querySelector('.main-svg'));
        return [...g.querySelectorAll('.xtick text, .ytick text, .annotation-text')].filter(t => t.textContent)
          .map(t => ({chart: g.querySelector('.gtitle').textContent, text: lines(t), inside: within(box(t), frame)}));
    });""")
    cut = [t for t in ticks if not t["inside"]]
    assert not cut, cut

    def texts(title: str) -> list[str]:
        return [t["text"] for t in ticks if t["chart"] == title]

    modes = [row[0] for row in reference_lake.kpi("on_time_by_mode", KpiFilters()).rows]
    assert texts("On-Time Delivery Rate by Shipping Mode")[:len(modes)] == modes
    products = [row[0] for row in reference_lake.kpi("top_products", KpiFilters(), top=5).rows]
    assert set(products) <= set(texts("Top 5 Products by Sales")), texts("Top 5 Products by Sales")


def test_the_treemap_tells_the_large_categories_apart_and_labels_only_what_fits(
    window: Window, served: str
) -> None:
    _open(window, served)
    tiles = window.evaluate("""const g = chart('Profit Margin by Product Category');
        return [...g.querySelectorAll('g.slice')].slice(1).map(s => {
            const surface = s.querySelector('path.surface'), t = s.querySelector('text.slicetext');
            const tile = box(surface);
            return {area: tile.width * tile.height, fill: getComputedStyle(surface).fill,
                    label: shown(t) ? lines(t) : null, px: shown(t) ? px(t) : null,
                    fits: shown(t) ? within(box(t), tile) : true};
        });""")
    tiles.sort(key=lambda t: -t["area"])
    largest = tiles[:6]  # about 70 % of net sales on the reference data
    colours = {t["label"] or str(i): _rgb(t["fill"]) for i, t in enumerate(largest)}
    closest = min(_distance(a, b) for a, b in itertools.combinations(colours.values(), 2))
    # about 30 between the closest pair (Cardio Equipment 11.76 %, Water Sports 11.80 %) here; below 5
    # on a linear scale, where Fishing and Women's Apparel (12.19 %, 12.20 %) shared one grey
    assert closest >= 20, f"two of the six largest tiles look alike (RGB distance {closest:.0f}): {colours}"

    labelled = [t for t in tiles if t["label"]]
    assert all(t["px"] >= MIN_TEXT_PX and t["fits"] for t in labelled), [t for t in labelled if not t["fits"] or t["px"] < MIN_TEXT_PX]
    assert largest[0]["label"], "the largest tile has no label"
    if not window.phone:
        assert all(t["label"] for t in largest), [t["label"] for t in largest]
    assert len(labelled) < len(tiles)  # the small tiles name their category on hover only


def test_snapshot_ids_are_behind_the_details_toggle(window: Window, served: str, reference_lake: Lakehouse) -> None:
    _open(window, served)
    snapshot = [r for r in reference_lake.history() if r.status == "success"][-1].snapshots["marts.fact_sales"]
    assert not re.search(r"\b\d{16,20}\b", window.page.inner_text("body"))
    window.page.get_by_text("Details", exact=True).click()
    window.page.get_by_text(str(snapshot)).wait_for(state="visible", timeout=10_000)


def test_the_drill_down_is_restored_from_its_url_and_shows_every_column(
    window: Window, served: str, reference_lake: Lakehouse, tmp_path: Path
) -> None:
    in_2017 = KpiFilters(year=2017, category="Electronics")  # 11 products that year
    products = [row[0] for row in reference_lake.kpi("top_products", in_2017, top=2).rows]
    page = window.page
    page.set_default_timeout(30_000)
    page.goto(f"{served}/?year=2017&drill_category=Electronics&drill_product={_quoted(products[0])}")
    headers = '[data-testid="stDataFrame"] [role="columnheader"]'
    page.wait_for_selector(headers, state="attached", timeout=30_000)
    assert _selected(page, "Category") == "Electronics" and _selected(page, "Product") == products[0]
    shown = [h.strip() for h in page.locator(headers).all_inner_texts()]
    assert len(set(shown)) == len(shown) and "Product" not in shown and "Category" not in shown
    if window.phone:  # a phone scrolls the table sideways; the first columns show
        assert shown == ORDER_LINE_COLUMNS[:len(shown)] and len(shown) >= 3
    else:  # every column fits a 1280-px window with the sidebar open
        assert shown == ORDER_LINE_COLUMNS
        width, room = page.evaluate(
            "(() => { const s = document.querySelector('[data-testid=\"stDataFrame\"] .dvn-scroller');"
            " return [s.scrollWidth, s.clientWidth]; })()")
        assert width <= room, f"the order lines need {width} px and have {room}"

    path = DOCS / f"dashboard-{window.name}.png" if os.environ.get("INSIGHTFLOW_UPDATE_SCREENSHOT") == "1" \
        else tmp_path / f"dashboard-{window.name}.png"
    _screenshot(window, path)

    page.get_by_role("combobox", name="Product", exact=True).click()
    page.keyboard.press("Control+A")  # the box holds the chosen product: typing opens the filtered list
    page.keyboard.type(products[1], delay=10)
    page.get_by_role("option", name=products[1], exact=True).click()
    page.wait_for_function(f"new URLSearchParams(location.search).get('drill_product') === {json.dumps(products[1])}")
    page.reload()
    page.wait_for_selector(headers, state="attached", timeout=30_000)
    assert _selected(page, "Product") == products[1]
    assert page.locator('[data-testid="stCaptionContainer"]').filter(
        has_text=f"order lines of {products[1]}").count() == 1


def _selected(page, label: str) -> str:
    return page.get_by_role("combobox", name=label, exact=True).input_value()


def _quoted(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


def _screenshot(window: Window, path: Path) -> None:
    """The whole page at the window's width: Streamlit scrolls an inner element, so grow the window."""
    page = window.page
    height = page.evaluate(
        "Math.max(...[...document.querySelectorAll('[data-testid=\"stMain\"], [data-testid=\"stAppViewContainer\"]')]"
        ".map(e => e.scrollHeight), document.body.scrollHeight)"
    )
    page.set_viewport_size({"width": window.size["width"], "height": max(window.size["height"], int(height))})
    page.wait_for_timeout(1500)  # let Plotly re-lay out the charts to the new window
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(window.size)
    assert path.stat().st_size > 50_000, f"the screenshot {path} looks blank"


def _rgb(css: str) -> tuple[float, ...]:
    return tuple(float(v) for v in re.findall(r"[\d.]+", css)[:3])


def _distance(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    return sum((x - y) ** 2 for x, y in zip(a, b, strict=True)) ** 0.5
