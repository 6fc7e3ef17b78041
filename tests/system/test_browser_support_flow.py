"""The support workflow in a real browser: Debian's chromium driven by Playwright.

The portal is served by the live server, the sandbox sends its webhooks to it, and a real
django-q2 cluster process does the queued work, so the pages change as they would for a person.
"""

from __future__ import annotations

import re
import time

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from calendars.actions.integrations import create_integration
from calendars.models import Credential, Customer, Integration, OAuthApp, RawCalendar
from tests.support.browser import log_in, run_action, wait_for_text
from tests.support.screenshots import Screenshots

CLIENT_SECRET = "GOCSPX-browser-test-secret"
# An integration page's status field once it is active, however the status is capitalised.
SHOWN_ACTIVE = re.compile(r'<div class="readonly">active</div>', re.IGNORECASE)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


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
    # The page stays where it is: the row's button gives way to the new integration's link.
    first_row = page.locator("table.raw-calendars tbody tr").first
    first_row.get_by_role("button", name="Create integration").click()
    expect(first_row.get_by_role("link")).to_be_visible()
    integration = Integration.objects.get()
    integration_url = f"{admin}/integration/{integration.pk}/change/"
    wait_for_text(page, integration_url, SHOWN_ACTIVE)

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
    wait_for_text(support, integration_url, SHOWN_ACTIVE)

    # A bulk resync over several integrations, watched to 100% as the page updates itself.
    run_action(page, f"{admin}/credential/", "list_raw_calendars", "alice@example.com")
    page.get_by_role("button", name="Create integrations for all").click()
    expect(page.locator("table.raw-calendars tbody tr").get_by_role("link")).to_have_count(3)
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


# What Meeting BaaS reports when Google refuses a connection's refresh token.
REFUSED = "invalid_grant: Token has been expired or revoked."
# The dashboard's group of refused tokens ("...: 2 integrations, 1 customer"), not the chart's
# legend entry of the same cause, which stays for the week's history.
REVOKED_GROUP = re.compile(r"^Refresh token refused or revoked: \d+ integrations?, ")
TRANSIENT_GROUP = re.compile(r"^Rate limited or Meeting BaaS unavailable: \d+ integrations?, ")


def connected_calendars(credential: Credential, *names: tuple[str, str]) -> list[Integration]:
    """Integrations made through the sandbox for (provider calendar ID, name) pairs."""
    integrations = []
    for provider_id, name in names:
        raw = RawCalendar.objects.create(
            credential=credential, provider_id=provider_id, name=name, listed_at=timezone.now()
        )
        integrations.append(create_integration(raw).integration)
    return integrations


def reload_until_link(page, url: str, name: re.Pattern, seconds: float = 20):
    """Reload `url` until it has a link named `name` (webhooks land a moment later); return it."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        page.goto(url)
        link = page.get_by_role("link", name=name)
        if link.count():
            return link.first
        time.sleep(0.5)
    raise AssertionError(f"no link named {name.pattern!r} ever appeared on {url}")


def test_support_clears_a_group_of_revoked_tokens(
    portal, browser, sandbox, tmp_path, record_property
):
    get_user_model().objects.create_user("sam", password="pw")
    call_command("assign_role", "sam", "Support")
    app = OAuthApp.objects.create(
        provider="google", name="Acme Google", client_id="123.apps", client_secret=CLIENT_SECRET
    )
    alice = Credential.objects.create(
        customer=Customer.objects.create(name="Acme Corp"),
        oauth_app=app,
        account_email="alice@example.com",
        refresh_token="1//refresh:alice@example.com",
    )
    bob = Credential.objects.create(
        customer=Customer.objects.create(name="Globex"),
        oauth_app=app,
        account_email="bob@example.com",
        refresh_token="1//refresh:bob@example.com",
    )
    revoked = connected_calendars(
        alice,
        ("alice@example.com", "alice@example.com"),
        ("alice.team@group.calendar.google.com", "Team meetings"),
    )
    (throttled,) = connected_calendars(bob, ("bob@example.com", "bob@example.com"))
    # Google refuses Alice's token for both her calendars; Globex's is another problem, which
    # the fix must leave on the dashboard.
    for integration in revoked:
        sandbox.force(integration.remote_id, status="error", status_message=REFUSED)
    sandbox.force(throttled.remote_id, status="error", status_message="Calendar API quota exceeded")
    shots = Screenshots(tmp_path / "screenshots")
    record_property("screenshots", str(shots.folder))
    support = log_in(browser, portal, "sam")
    support.set_viewport_size({"width": 1440, "height": 900})

    # The dashboard groups the refused tokens: one customer, two integrations, one link.
    dashboard = f"{portal}/admin/"
    group = reload_until_link(support, dashboard, REVOKED_GROUP)
    reload_until_link(support, dashboard, TRANSIENT_GROUP)
    expect(group).to_contain_text("2 integrations, 1 customer")
    shots.take(support, "dashboard")

    # The group's link is the integrations list filtered to it: Alice's two, not Globex's.
    group.click()
    support.wait_for_url(re.compile(r"/admin/calendars/integration/\?.*problem=token_refused"))
    rows = support.locator("#result_list tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="alice@example.com")).to_have_count(2)
    shots.take(support, "group")

    # An integration of the group says what fixes it, and leads to the credential.
    rows.get_by_role("link", name="Team meetings").click()
    expect(support.locator("#content")).to_contain_text(REFUSED)
    expect(support.locator("#content")).to_contain_text("Replace refresh token")
    shots.take(support, "integration")
    support.get_by_role("link", name=re.compile(r"^alice@example\.com")).first.click()
    support.wait_for_url(re.compile(rf"/admin/calendars/credential/{alice.pk}/change/"))

    # The fix is one click from the group: its button for Alice's credential opens the form
    # for her new token, which is pushed to both integrations in one job.
    support.goto(dashboard)
    group_item = support.locator(".attention-groups li").filter(
        has=support.get_by_role("link", name=REVOKED_GROUP)
    )
    expect(group_item.get_by_role("button")).to_have_count(1)
    group_item.get_by_role("button", name="Replace refresh token (alice@example.com)").click()
    expect(support.locator("#content")).to_contain_text(
        "Replace the refresh token of alice@example.com"
    )
    support.fill("#id_refresh_token", "1//fresh:alice@example.com")
    shots.take(support, "fix")
    support.get_by_role("button", name="Replace and push").click()
    support.wait_for_url(re.compile(r"/admin/calendars/bulkjob/\d+/change/"))
    expect(support.locator("#progress-summary")).to_have_text("All 2 fixed.", timeout=30_000)
    items = support.locator("table.job-items tbody tr")
    expect(items).to_have_count(2)
    expect(items.filter(has_text="Fixed")).to_have_count(2)
    shots.take(support, "job")

    # Back on the dashboard the group is gone; Globex's problem is still there.
    support.goto(dashboard)
    expect(support.get_by_role("link", name=TRANSIENT_GROUP)).to_have_count(1)
    expect(support.get_by_role("link", name=REVOKED_GROUP)).to_have_count(0)
    expect(support.locator("table.needs-attention")).not_to_contain_text("alice@example.com")
    shots.take(support, "dashboard-after")
