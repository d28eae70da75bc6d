"""What the browser tests click through, shared with the screenshot script: each step asserts what a person
would see, and ``shot(name)`` may photograph the page at the main stops."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.portal.live import MONTHS, PASSWORD, LiveRegion

Shot = Callable[[str], None]


def _no_shot(name: str) -> None:
    return None


def log_in(page: Page, region: LiveRegion, account_id: int, shot: Shot = _no_shot) -> None:
    """Log in through the form."""
    page.goto(f"{region.base_url}/portal/login")
    page.fill("input[name=account_id]", str(account_id))
    page.fill("input[name=password]", PASSWORD)
    shot("login")
    page.click("form button[type=submit]")


def log_out(page: Page) -> None:
    """Log out through the header's button."""
    page.click("header form button")
    expect(page).to_have_url(re.compile(r"/portal/login$"))


def enterprise_grants_and_revokes(page: Page, region: LiveRegion, shot: Shot = _no_shot) -> int:
    """An enterprise logs in, reads its score, grants the second bank access, sees it listed, revokes it.
    Returns the grant's id."""
    log_in(page, region, region.enterprise_id, shot)
    expect(page).to_have_url(re.compile(r"/portal/enterprise/score$"))
    expect(page.locator("#score")).to_have_text(re.compile(r"^\d{3}$"))
    shot("enterprise-score")
    page.click("nav a[href$='/portal/enterprise/authorisations']")
    page.select_option("select[name=bank_code]", region.bank_code)
    page.fill("input[name=days]", "90")
    page.click("form.grid button[type=submit]")
    receipt = page.locator("#receipt")
    expect(receipt).to_contain_text(region.bank_code)
    grant_id = int(page.locator(f"#grants tr:has-text('{region.bank_code}')").first.get_attribute("data-grant") or 0)
    row = page.locator(f"#grants tr[data-grant='{grant_id}']")
    expect(row).to_have_attribute("data-status", "active")
    shot("enterprise-authorisations")
    row.locator("button.danger").click()
    expect(page.locator(f"#grants tr[data-grant='{grant_id}']")).to_have_attribute("data-status", "revoked")
    expect(page.locator("#receipt")).to_contain_text(str(grant_id))
    page.click("nav a[href$='/portal/enterprise/access-log']")
    shot("enterprise-access-log")
    page.click("nav a[href$='/portal/enterprise/objections']")
    shot("enterprise-objections")
    log_out(page)
    return grant_id


def regulator_reads_growth(page: Page, region: LiveRegion, shot: Shot = _no_shot) -> None:
    """A regulator logs in, opens the credit-lending page and reads the growth chart, then one bank's."""
    log_in(page, region, region.regulator_id)
    expect(page).to_have_url(re.compile(r"/portal/regulator/coverage$"))
    shot("regulator-coverage")
    page.click("nav a[href$='/portal/regulator/lending']")
    chart = page.locator("#chart-1 svg")
    expect(chart).to_be_visible()
    assert chart.locator("rect[fill='#3b6ea5'] >> title").count() >= MONTHS  # a bar a month, to this month
    expect(chart.locator("polyline")).to_have_count(1)  # year on year from the 13th month on
    shot("regulator-lending")
    page.select_option("select[name=by]", "bank")
    page.click("form.filters button")
    expect(page.locator("select[name=group]")).to_be_visible()
    expect(page.locator("#chart-1 svg")).to_be_visible()
    page.click("nav a[href$='/portal/regulator/monitoring']")
    psi = page.locator("svg.chart").first
    expect(psi).to_be_visible()
    expect(psi.locator("line[stroke-dasharray]")).to_have_count(2)  # the 0.1 and 0.25 bands
    shot("regulator-monitoring")
    log_out(page)
