"""The API's documentation pages work offline: every asset comes from the app itself, and the
pages render every operation in headless Chromium with all other network blocked."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.browsers import CHROMIUM, CHROMIUM_ARGS, playwright_driver

PAGES = ["/docs", "/redoc"]
_REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*'([^']+)'|spec-url=["']([^"']+)["']""")


def references(html: str) -> list[str]:
    """Every URL a documentation page loads: scripts, style sheets, icons and the OpenAPI spec."""
    return [next(g for g in match.groups() if g) for match in _REFERENCE.finditer(html)]


@pytest.mark.parametrize("page", PAGES)
def test_docs_pages_load_only_local_assets(client, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    urls = references(response.text)
    assert any(u.endswith(".js") for u in urls) and "/openapi.json" in urls, urls
    for url in urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc and url.startswith("/"), f"{page} loads {url} from elsewhere"
        assert client.get(url).status_code == 200, url
    assert "cdn" not in response.text.lower() and "fonts.googleapis" not in response.text
    # and the browser is told to load nothing from elsewhere (ReDoc's bundle links a CDN logo)
    assert "default-src 'self'" in response.headers["content-security-policy"]


def test_docs_pages_are_not_in_the_spec(client) -> None:
    paths = set(client.get("/openapi.json").json()["paths"])
    assert not {p for p in paths if p.startswith(("/docs", "/redoc"))}


@pytest.fixture(scope="module")
def served_api(client) -> Iterator[str]:
    """The app of ``client`` served for real by uvicorn on a free loopback port."""
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(client.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def offline_browser() -> Iterator:
    with playwright_driver() as driver:
        chromium = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.mark.browser
@pytest.mark.parametrize("page", PAGES)
def test_docs_pages_render_every_operation_offline(served_api: str, offline_browser, client, page: str) -> None:
    summaries = [operation["summary"] for path in client.get("/openapi.json").json()["paths"].values()
                 for operation in path.values()]
    blocked: list[str] = []
    context = offline_browser.new_context()

    def only_loopback(route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", only_loopback)
    try:
        browser_page = context.new_page()
        browser_page.goto(served_api + page)
        browser_page.wait_for_function(
            "summaries => summaries.every(s => document.body.innerText.includes(s))", arg=summaries, timeout=30_000)
        assert "/kpis/{name}" in browser_page.inner_text("body")
    finally:
        context.close()
    assert blocked == [], f"{page} tried to reach other hosts"
