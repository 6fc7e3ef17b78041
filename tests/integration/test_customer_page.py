"""The customer page: where support starts from "Acme's recordings stopped"."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse

from calendars.actions.credentials import list_raw_calendars
from calendars.actions.refresh import refresh_integration
from calendars.meetingbaas.errors import MeetingBaasError
from calendars.models import Credential, Customer, Integration, StatusChange
from tests.support.webhook_signing import post_v2

TOKEN_MESSAGE = "invalid_grant: <b>Token</b> has been expired or revoked."
REVOKED_TOKEN = "revoked-bob-refresh-token"


def section(page: str, section_id: str) -> str:
    start = page.index(f'<section id="{section_id}">')
    return page[start : page.index("</section>", start)]


def ticket_text(page: str) -> str:
    """The summary as a person copies it: the textarea's text, unescaped."""
    found = re.search(r'<textarea readonly id="ticket-summary"[^>]*>(.*?)</textarea>', page, re.S)
    return html.unescape(found.group(1))


def customer_url(customer: Customer) -> str:
    return reverse("admin:calendars_customer_change", args=[customer.pk])


@pytest.fixture
def acme(sandbox, customer, google_app, credential, make_integration) -> dict:
    """A customer with a healthy integration, one whose token was revoked, a credential whose
    check failed, and a webhook received."""
    sandbox.state.sync_delay = 0  # the first sync ends at once: the healthy one turns active
    healthy = make_integration()
    refresh_integration(healthy.pk)
    broken = make_integration("alice.team@group.calendar.google.com")
    sandbox.force(broken.remote_id, status="error", status_message=TOKEN_MESSAGE)
    refresh_integration(broken.pk)
    refused = Credential.objects.create(
        customer=customer,
        oauth_app=google_app,
        account_email="bob@example.com",
        refresh_token=REVOKED_TOKEN,
    )
    with pytest.raises(MeetingBaasError):
        list_raw_calendars(refused)
    forced = sandbox.force(healthy.remote_id, status="active")
    post_v2(
        Client(),
        {
            "event": "calendar.connection_updated",
            "data": {
                "calendar_id": str(healthy.remote_id),
                "calendar_platform": "google",
                "account_email": "alice@example.com",
                "status": "active",
                "created_at": forced["created_at"],
                "updated_at": forced["updated_at"],
            },
        },
    )
    return {
        "customer": customer,
        "healthy": Integration.objects.get(pk=healthy.pk),
        "broken": Integration.objects.get(pk=broken.pk),
        "refused": Credential.objects.get(pk=refused.pk),
    }


@pytest.mark.parametrize("role", ["Support", "Auditor"])
def test_the_page_shows_every_part_to_read_only_roles(role_client, acme, role):
    broken, healthy = acme["broken"], acme["healthy"]

    page = role_client(role).get(customer_url(acme["customer"])).content.decode()

    problems = section(page, "open-problems")
    assert "Cal alice.team@group.calendar.google.com" in problems
    assert "Refresh token refused or revoked" in problems
    assert html.escape(TOKEN_MESSAGE) in problems
    assert "Cal alice@example.com" not in problems  # healthy: not a problem
    integrations = section(page, "customer-integrations")
    assert str(broken.remote_id) in integrations and str(healthy.remote_id) in integrations
    assert '<span class="status-chip status-error">Error</span>' in integrations
    assert '<span class="status-chip status-active">Active</span>' in integrations
    assert reverse("admin:calendars_integration_change", args=[broken.pk]) in integrations
    credentials = section(page, "customer-credentials")
    assert '<span class="status-chip status-error">Failed</span>' in credentials
    assert html.escape(acme["refused"].last_check_message) in credentials
    assert reverse("admin:calendars_credential_change", args=[acme["refused"].pk]) in credentials
    calendars = section(page, "customer-raw-calendars")
    assert "Cal alice@example.com" in calendars and "status-chip status-active" in calendars
    webhook = section(page, "last-webhook")
    assert "calendar.connection_updated" in webhook and "Applied" in webhook
    timeline = section(page, "customer-timeline")
    assert timeline.index("calendar.connection_updated") < timeline.index("syncing → error")
    assert "list raw calendars (failed)" in timeline
    # read-only: the customer's fields are text, with no way to save
    assert 'name="name"' not in page and 'name="_save"' not in page


def test_an_admin_sees_the_same_page_with_the_form(role_client, acme):
    page = role_client("Admin").get(customer_url(acme["customer"])).content.decode()

    assert 'name="name"' in page and 'name="_save"' in page
    assert "Refresh token refused or revoked" in section(page, "open-problems")


def test_customer_names_and_remote_messages_are_escaped(role_client, acme):
    Customer.objects.filter(pk=acme["customer"].pk).update(name="<i>Acme</i> Corp")

    page = role_client("Support").get(customer_url(acme["customer"])).content.decode()

    assert "<i>Acme</i>" not in page and "&lt;i&gt;Acme&lt;/i&gt; Corp" in page
    assert "<b>Token</b>" not in page and "&lt;b&gt;Token&lt;/b&gt;" in page


def test_the_ticket_summary_holds_ids_statuses_messages_and_no_secret(
    role_client, acme, google_app
):
    broken, healthy = acme["broken"], acme["healthy"]

    page = role_client("Support").get(customer_url(acme["customer"])).content.decode()
    summary = ticket_text(page)

    assert "Copy summary for a Meeting BaaS ticket</button>" in page
    assert '<script src="/static/calendars/copy_summary.js" defer></script>' in page
    assert f"Meeting BaaS id {broken.remote_id} (API v2, Google)" in summary
    assert f"Meeting BaaS id {healthy.remote_id} (API v2, Google)" in summary
    assert "    Status: error\n" in summary
    assert f"    Error message: {TOKEN_MESSAGE}\n" in summary  # the API's exact words
    since = broken.status_changed_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    assert f"    Status since: {since}\n" in summary
    assert "bob@example.com via Acme Google (Google): last check failed at" in summary
    assert acme["refused"].last_check_message in summary
    assert "Last webhook received: calendar.connection_updated" in summary
    for secret in (google_app.client_secret.reveal(), REVOKED_TOKEN, "1//refresh:"):
        assert secret not in summary and secret not in page


@pytest.mark.clock
def test_the_timeline_is_bounded_newest_first(role_client, acme):
    broken = acme["broken"]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    StatusChange.objects.bulk_create(
        StatusChange(
            integration=broken,
            from_status="error",
            to_status="error",
            message=f"old change {n}",
            changed_at=start + timedelta(minutes=n),
            cause="refresh",
        )
        for n in range(150)
    )

    page = role_client("Auditor").get(customer_url(acme["customer"])).content.decode()
    timeline = section(page, "customer-timeline")

    assert timeline.count("<tr>") == 1 + 100  # the header, then the newest 100
    assert "old change 149" in timeline and "old change 0<" not in timeline


def test_a_customer_with_nothing_yet_says_so(role_client):
    customer = Customer.objects.create(name="New Ltd")

    page = role_client("Support").get(customer_url(customer)).content.decode()

    assert "No open problem" in section(page, "open-problems")
    assert "No integration yet." in section(page, "customer-integrations")
    assert "No credential yet." in section(page, "customer-credentials")
    assert "None received" in section(page, "last-webhook")
    assert "Nothing recorded yet." in section(page, "customer-timeline")
    assert "Integrations (0):" in ticket_text(page)
