"""The "History" button in Debian's chromium, as an auditor: the integration's whole timeline."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from calendars.actions.refresh import refresh_integration
from tests.conftest import require_service
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def auditor_page(live_server, monkeypatch):
    """A browser page signed in as an auditor."""
    require_service(
        CHROMIUM.exists(), "Debian's chromium is not installed (apt-get install chromium)"
    )
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # the ORM runs beside Playwright
    user = get_user_model().objects.create_user("auditor", password="pw")
    call_command("assign_role", user.username, "Auditor")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.set_default_timeout(15_000)
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", "auditor")
        page.fill("#id_password", "pw")
        page.click("input[type=submit]")
        page.wait_for_selector("#site-name")
        yield page
        browser.close()


def test_the_history_button_shows_every_change_of_the_integration(
    live_server, auditor_page, sandbox, make_integration, tmp_path: Path
):
    integration = make_integration()
    sandbox.force(integration.remote_id, status="error", status_message="Quota exceeded")
    refresh_integration(integration.pk)

    auditor_page.goto(
        live_server.url + reverse("admin:calendars_integration_change", args=[integration.pk])
    )
    auditor_page.click("a.historylink")
    auditor_page.wait_for_selector("#change-history table.timeline")
    text = auditor_page.inner_text("#change-history")
    auditor_page.screenshot(path=str(tmp_path / "integration-history.png"), full_page=True)

    assert "have a change history" not in text
    assert "status syncing → error (Refresh): Quota exceeded" in text
    assert "status set to syncing (Created)" in text
    assert "create integration (done)" in text
    assert auditor_page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
