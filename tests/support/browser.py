"""Driving the portal in Debian's chromium (Playwright): the browser, signing in, waiting."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management import call_command

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


# The window the reading and width tests judge pages in.
WINDOW = {"width": 1440, "height": 900}


def signed_in_as_support(live_server, monkeypatch, **context: object) -> Iterator:
    """A WINDOW-sized chromium page signed in as a Support user `sam` (`context`: Playwright's
    browser context options, e.g. `timezone_id`); the browser is closed after."""
    from playwright.sync_api import sync_playwright

    from tests.conftest import require_service

    require_service(
        CHROMIUM.exists(), "Debian's chromium is not installed (apt-get install chromium)"
    )
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # the ORM runs beside Playwright
    get_user_model().objects.create_user("sam", password="pw")
    call_command("assign_role", "sam", "Support")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_context(viewport=WINDOW, **context).new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", "sam")
        page.fill("#id_password", "pw")
        page.click("input[type=submit]")
        page.wait_for_selector("#site-name")
        yield page
        browser.close()


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
