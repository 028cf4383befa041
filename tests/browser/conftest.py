"""Browser tests: Debian's headless Chromium driven by Playwright (never a browser Playwright downloads).

Skipped, with the reason, when /usr/bin/chromium is absent (``apt-get install chromium``). Screenshots go to
``artifacts/screenshots/`` (git-ignored) so a failing run can be looked at.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("TUTOR_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def browser():
    # Module scope, not session: Playwright's sync API keeps an event loop running in this thread while it is open,
    # and later tests call asyncio.run().
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed: apt-get install chromium (scripts/test.sh does this)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture()
def shot(page):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
