"""Driving the portal in Debian's chromium (Playwright): the browser, signing in, waiting."""

from __future__ import annotations

import re
import time
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def log_in(browser, url: str, username: str):
    page = browser.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    return page


def run_action(page, changelist: str, action: str, row_text: str | None = None) -> None:
    page.goto(changelist)
    if row_text:
        page.locator("tr", has_text=row_text).locator("input.action-select").check()
    else:
        page.check("#action-toggle")
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")


def wait_for_text(page, url: str, text: str | re.Pattern, seconds: float = 20) -> None:
    """Reload `url` until its HTML holds `text` (a string, or a pattern to search for)."""
    pattern = text if isinstance(text, re.Pattern) else re.compile(re.escape(text))
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        page.goto(url)
        if pattern.search(page.content()):
            return
        time.sleep(0.5)
    raise AssertionError(f"{pattern.pattern!r} never appeared on {url}")
