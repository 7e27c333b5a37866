"""Headless Debian Chromium driven by Playwright, for the browser tests."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator

import pytest

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; `scripts/setup.sh --test` installs it
# Without the background-networking flags Chromium keeps dialling out on a closed network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def require_chromium() -> None:
    """Skip, saying why, on a machine without Debian's chromium (the set-up installs it)."""
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM}; run scripts/setup.sh --test")


@asynccontextmanager
async def chromium(artifacts: Path) -> AsyncIterator[Any]:
    """A launched browser; `artifacts` (screenshots) is created first."""
    from playwright.async_api import async_playwright

    artifacts.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                   args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()
