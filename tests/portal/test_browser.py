"""Browser tests: headless Chromium (Debian's package, driven by Playwright) against a live portal.

An enterprise grants an authorisation to a bank, sees it listed and revokes it (and the bank's API call is
refused after); a regulator reads the credit-lending growth chart. With ``XINYI_PORTAL_SCREENSHOTS`` set to a
folder, the main pages are photographed there (``python -m tests.portal.screenshots`` writes docs/screenshots).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.portal.flows import Shot, enterprise_grants_and_revokes, regulator_reads_growth
from tests.portal.live import LiveRegion, live_portal

pytestmark = pytest.mark.slow
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveRegion]:
    """The live portal on a free port."""
    with live_portal(tmp_path_factory.mktemp("live-portal")) as live:
        yield live


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless; missing, it fails under CI=true (.ci/run installs it) and skips elsewhere."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (apt-get install -y chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies) per test."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    yield context.new_page()
    context.close()


def test_enterprise_grants_then_revokes_an_authorisation(page: Page, region: LiveRegion) -> None:
    grant_id = enterprise_grants_and_revokes(page, region, _shooter(page))
    assert grant_id > 0
    refused = httpx.post(f"{region.base_url}/v1/scores", json={"uscc": region.uscc},
                         headers={"Authorization": f"Bearer {region.bank_b_key}"})
    assert refused.status_code == 403  # the revocation reached the API at once


def test_regulator_reads_the_growth_chart(page: Page, region: LiveRegion) -> None:
    regulator_reads_growth(page, region, _shooter(page))


def _shooter(page: Page) -> Shot:
    folder = os.environ.get("XINYI_PORTAL_SCREENSHOTS")
    if not folder:
        return lambda name: None
    Path(folder).mkdir(parents=True, exist_ok=True)

    def shot(name: str) -> None:
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)

    return shot
