"""The support workflow in a real browser: Debian's chromium driven by Playwright.

The portal is served by the live server, the sandbox sends its webhooks to it, and a real
django-q2 cluster process does the queued work, so the pages change as they would for a person.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django_q.conf import Conf
from playwright.sync_api import expect

from calendars.models import Customer, Integration
from tests.conftest import require_service
from tests.support.cluster import start_cluster, stop_cluster

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
CLIENT_SECRET = "GOCSPX-browser-test-secret"

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def portal(live_server, sandbox, monkeypatch):
    """The live portal with webhooks from the sandbox and a cluster doing the queued work."""
    require_service(
        CHROMIUM.exists(), "Debian's chromium is not installed (apt-get install chromium)"
    )
    # Playwright's sync API runs an event loop in this thread; the ORM calls made here are
    # plain synchronous test code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    monkeypatch.setattr(Conf, "SYNC", False)
    sandbox.control(
        "POST",
        "config",
        {
            "webhook_url": f"{live_server.url}/webhooks/meetingbaas/",
            "webhook_secret": settings.MEETINGBAAS_WEBHOOK_SECRET[0],
            "sync_delay": 1.0,
        },
    )
    cluster = start_cluster(sandbox.url, Q_CLUSTER_NAME="portal")
    yield live_server.url
    output = stop_cluster(cluster)
    assert "Traceback" not in output, output[-3000:]


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


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


def wait_for_text(page, url: str, text: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        page.goto(url)
        if text in page.content():
            return
        time.sleep(0.5)
    raise AssertionError(f"{text!r} never appeared on {url}")


def test_support_finds_and_fixes_a_broken_integration(portal, browser, sandbox, tmp_path):
    User = get_user_model()
    User.objects.create_superuser("boss", "boss@example.com", "pw")
    for name, role in (("sam", "support"), ("audrey", "auditor")):
        User.objects.create_user(name, password="pw")
        call_command("assign_role", name, role)
    Customer.objects.create(name="Acme Corp")
    admin = f"{portal}/admin/calendars"

    page = log_in(browser, portal, "boss")
    # An admin registers the OAuth app and the customer's credential.
    page.goto(f"{admin}/oauthapp/add/")
    page.select_option("#id_provider", "google")
    page.fill("#id_name", "Acme Google")
    page.fill("#id_client_id", "123.apps.googleusercontent.com")
    page.fill("#id_client_secret", CLIENT_SECRET)
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    page.goto(f"{admin}/credential/add/")
    page.click("#id_customer + .select2 .select2-selection")
    page.fill(".select2-search__field", "Acme")
    page.click(".select2-results__option:has-text('Acme Corp')")
    page.select_option("#id_oauth_app", label="Acme Google (Google)")
    page.fill("#id_account_email", "alice@example.com")
    page.fill("#id_refresh_token", "1//token:alice@example.com")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")

    # List raw calendars, create an integration and watch it turn active.
    run_action(page, f"{admin}/credential/", "list_raw_calendars", "alice@example.com")
    page.wait_for_selector("table.raw-calendars")
    assert page.locator("table.raw-calendars tbody tr").count() == 3
    page.locator("table.raw-calendars tbody tr").first.locator(
        "button", has_text="Create integration"
    ).click()
    page.wait_for_selector(".field-status")
    integration = Integration.objects.get()
    integration_url = f"{admin}/integration/{integration.pk}/change/"
    wait_for_text(page, integration_url, '<div class="readonly">active</div>')

    # Break it in the sandbox; support finds it in the needs-attention queue.
    sandbox.force(
        integration.remote_id,
        status="error",
        status_message="invalid_grant: Token has been expired or revoked.",
    )
    support = log_in(browser, portal, "sam")
    wait_for_text(support, f"{portal}/admin/", "Refresh token refused or revoked")
    queue = support.locator("table.needs-attention")
    assert "alice@example.com" in queue.inner_text()
    queue.locator("a").first.click()
    support.wait_for_selector(".field-diagnosis_panel")
    assert "invalid_grant: Token has been expired or revoked." in support.content()

    # Fix it with a new refresh token; the push runs as a job whose progress reaches 100%.
    run_action(support, f"{admin}/credential/", "replace_refresh_token", "alice@example.com")
    support.fill("#id_refresh_token", "1//fresh:alice@example.com")
    support.click("button:has-text('Replace and push')")
    support.wait_for_selector("#job-progress")
    expect(support.locator("#progress-percent")).to_have_text("100%", timeout=20_000)
    wait_for_text(support, integration_url, '<div class="readonly">active</div>')

    # A bulk resync over several integrations, watched to 100% as the page updates itself.
    for row in range(1, 3):
        run_action(page, f"{admin}/credential/", "list_raw_calendars", "alice@example.com")
        page.locator("table.raw-calendars tbody tr").nth(row).locator("button").click()
        page.wait_for_selector(".field-status")
    sandbox.fault("POST", "/v2/calendars/.*/sync", "slow", delay=1.0, count=3)
    run_action(support, f"{admin}/integration/", "resync")
    support.click("button:has-text('Yes, go ahead')")
    support.wait_for_selector("#job-progress")
    first_seen = support.inner_text("#progress-percent")
    expect(support.locator("#progress-percent")).to_have_text("100%", timeout=30_000)
    assert re.fullmatch(r"\d+%", first_seen) and first_seen != "100%"  # seen while it ran
    support.wait_for_selector("text=Finished.")
    support.screenshot(path=str(tmp_path / "progress.png"), full_page=True)

    # An auditor sees everything but no action, and no secret anywhere.
    auditor = log_in(browser, portal, "audrey")
    for url in (
        f"{admin}/integration/",
        f"{admin}/credential/",
        f"{admin}/oauthapp/",
        integration_url,
    ):
        auditor.goto(url)
        assert auditor.locator("select[name=action]").count() == 0, url
        html = auditor.content()
        assert CLIENT_SECRET not in html and "1//fresh" not in html, url
    auditor.goto(f"{admin}/oauthapp/")
    auditor.click("text=Acme Google")
    auditor.wait_for_selector(".field-client_id")
    assert auditor.locator("input[name=client_secret]").count() == 0
