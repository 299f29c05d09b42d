"""Debian's Chromium driven by Playwright, for the browser tests (Playwright's own download is
never used). In CI (``CI=true``) a missing browser or Playwright fails the test instead of skipping it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


def unavailable(reason: str) -> None:
    """Skip the test on a user's machine; fail it in CI, where it must run."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} (the browser test must not be skipped in CI)")
    pytest.skip(reason)


@contextmanager
def playwright_driver() -> Iterator:
    """Playwright's sync driver, once Playwright and Chromium are known to be there."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("needs Playwright: pip install playwright (no `playwright install`: Debian's chromium is used)")
    if not CHROMIUM.exists():
        unavailable(f"needs Chromium at {CHROMIUM}: apt-get install chromium")
    with sync_playwright() as driver:
        yield driver
