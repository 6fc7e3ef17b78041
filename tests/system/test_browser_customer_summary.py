"""The customer page in Debian's chromium: the ticket summary reaches the clipboard."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from tests.conftest import require_service
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def support_page(live_server, monkeypatch):
    """A browser page signed in as Support, allowed to use the clipboard."""
    require_service(
        CHROMIUM.exists(), "Debian's chromium is not installed (apt-get install chromium)"
    )
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # the ORM runs beside Playwright
    user = get_user_model().objects.create_user("support", password="pw")
    call_command("assign_role", user.username, "Support")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(
            viewport={"width": 1440, "height": 900},
            permissions=["clipboard-read", "clipboard-write"],
        )
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", "support")
        page.fill("#id_password", "pw")
        page.click("input[type=submit]")
        page.wait_for_selector("#site-name")
        yield page
        browser.close()


def test_the_copy_button_puts_the_summary_on_the_clipboard(
    live_server, support_page, sandbox, make_integration, tmp_path: Path
):
    integration = make_integration()
    refused = []
    support_page.on(
        "console", lambda m: refused.append(m.text) if "Content Security" in m.text else None
    )
    customer = integration.credential.customer

    support_page.goto(
        live_server.url + reverse("admin:calendars_customer_change", args=[customer.pk])
    )
    support_page.click("text=Copy summary for a Meeting BaaS ticket")
    support_page.wait_for_selector("#copy-summary-status:has-text('Copied.')")
    copied = support_page.evaluate("navigator.clipboard.readText()")
    support_page.screenshot(path=str(tmp_path / "customer-page.png"), full_page=True)

    assert copied == support_page.input_value("#ticket-summary")
    assert f"Meeting BaaS id {integration.remote_id}" in copied
    assert refused == []
    assert support_page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
