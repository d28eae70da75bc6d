"""Photograph the portal's main pages: ``python -m tests.portal.screenshots [folder]`` (default docs/screenshots).

Runs the browser tests' flows against a live, seeded portal in headless Chromium, once in Chinese and once in
English (``<folder>/zh/*.png``, ``<folder>/en/*.png``). Needs /usr/bin/chromium and a CJK font
(Debian: ``apt-get install -y chromium fonts-wqy-zenhei``).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from tests.portal.flows import enterprise_grants_and_revokes, regulator_reads_growth
from tests.portal.live import live_portal

CHROMIUM = "/usr/bin/chromium"
LOCALES = {"zh": "zh-CN", "en": "en-GB"}


def main(argv: list[str]) -> int:
    """Write the screenshots; returns the process exit status."""
    out = Path(argv[0]) if argv else Path("docs/screenshots")
    with tempfile.TemporaryDirectory() as folder, live_portal(Path(folder)) as region, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        for lang, locale in LOCALES.items():
            target = out / lang
            target.mkdir(parents=True, exist_ok=True)
            context = browser.new_context(viewport={"width": 1280, "height": 860}, locale=locale)
            page = context.new_page()

            def shot(name: str, page: Page = page, target: Path = target) -> None:
                page.screenshot(path=str(target / f"{name}.png"), full_page=True)

            enterprise_grants_and_revokes(page, region, shot)
            regulator_reads_growth(page, region, shot)
            context.close()
        browser.close()
    for path in sorted(out.rglob("*.png")):
        sys.stdout.write(f"{path} {path.stat().st_size // 1024} KiB\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
