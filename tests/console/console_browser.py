"""Playwright driving Debian's Chromium (never a downloaded browser) for the console's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def launch_chromium():  # type: ignore[no-untyped-def]
    """A started (playwright, browser) pair; skips the test when Chromium or playwright is missing."""
    if not CHROMIUM.exists():
        pytest.skip(
            "console browser tests need Debian's Chromium at /usr/bin/chromium (apt-get install chromium)"
        )
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the dev extras)")
    playwright = sync_api.sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    return playwright, browser


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    playwright, launched = launch_chromium()
    yield launched
    launched.close()
    playwright.stop()
