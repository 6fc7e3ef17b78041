"""The customer page answers "why did no bot join my meeting this morning?": the customer's
meetings of the last day and the next, each with its bot and its calendar's status, bounded
and in a fixed number of queries; and a "Create connect link" button."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from calendars.models import Credential, Customer, Integration, Meeting, RawCalendar
from calendars.queries import customers
from tests.support.seeding import integration_of


def calendar_of(customer: Customer, app, name: str, status: str = "active") -> Integration:
    credential = Credential.objects.create(
        customer=customer, oauth_app=app, account_email=f"{name}@example.com", refresh_token="rt"
    )
    raw = RawCalendar.objects.create(
        credential=credential, provider_id=name, name=f"Cal {name}", listed_at=timezone.now()
    )
    return Integration.objects.create(
        credential=credential,
        raw_calendar=raw,
        remote_id=uuid.uuid4(),
        api_version="v2",
        provider="google",
        status=status,
        error_message="invalid_grant: Token has been revoked." if status == "error" else "",
    )


def meeting_on(integration: Integration, title: str, in_hours: float, **fields) -> Meeting:
    start = timezone.now() + timedelta(hours=in_hours)
    return Meeting.objects.create(
        integration=integration,
        remote_event_id=uuid.uuid4(),
        title=title,
        starts_at=start,
        ends_at=start + timedelta(minutes=30),
        synced_at=timezone.now(),
        **fields,
    )


def page_of(client, customer: Customer) -> str:
    response = client.get(reverse("admin:calendars_customer_change", args=[customer.pk]))
    assert response.status_code == 200
    return response.content.decode()


def section(page: str) -> str:
    start = page.index('<section id="customer-meetings">')
    return page[start : page.index("</section>", start)]


def test_the_page_lists_the_meetings_of_the_last_day_and_the_next_with_their_calendars(
    role_client, customer, google_app
):
    broken = calendar_of(customer, google_app, "alice", status="error")
    healthy = calendar_of(customer, google_app, "bob")
    missed = meeting_on(broken, "Morning standup", -3)
    booked = meeting_on(healthy, "Board review", 5, has_bot=True, bot_summary="Acme notes")
    meeting_on(healthy, "Last week's retro", -30)
    meeting_on(healthy, "Offsite", 30)
    meeting_on(integration_of(google_app, "Other Co", "carol@example.com"), "Not theirs", 1)

    meetings = section(page_of(role_client("Support"), customer))

    assert meetings.index("Morning standup") < meetings.index("Board review")
    for absent in ("Last week's retro", "Offsite", "Not theirs"):
        assert absent not in meetings
    assert reverse("admin:calendars_meeting_change", args=[missed.pk]) in meetings
    assert reverse("admin:calendars_integration_change", args=[broken.pk]) in meetings
    assert reverse("admin:calendars_integration_change", args=[booked.integration.pk]) in meetings
    assert "Not scheduled" in meetings and "Scheduled" in meetings
    assert 'status-chip status-error">Error' in meetings and "invalid_grant" in meetings


def test_the_rows_are_capped_and_the_meetings_list_has_the_rest(
    role_client, customer, google_app, monkeypatch
):
    monkeypatch.setattr(customers, "MEETINGS_SHOWN", 3)
    integration = calendar_of(customer, google_app, "alice")
    for hour in range(5):
        meeting_on(integration, f"Meeting {hour}", hour - 2)
    client = role_client("Support")

    meetings = section(page_of(client, customer))

    assert "The first 3 of 5." in meetings
    assert "Meeting 2" in meetings and "Meeting 3" not in meetings
    url = reverse("admin:calendars_meeting_changelist") + (
        f"?customer={customer.pk}&amp;starts=around_now"
    )
    assert url in meetings
    listed = client.get(url.replace("&amp;", "&")).content.decode()
    assert all(f"Meeting {hour}" in listed for hour in range(5))


def test_the_query_count_does_not_grow_with_the_rows(role_client, customer, google_app):
    client = role_client("Support")

    def queries_with(calendars: int) -> int:
        for n in range(calendars):
            integration = calendar_of(customer, google_app, f"user{uuid.uuid4().hex[:8]}")
            meeting_on(integration, f"Sync {n}", n % 20 - 10)
        with CaptureQueriesContext(connection) as queries:
            page = page_of(client, customer)
        assert f"Sync {calendars - 1}<" in section(page)
        return len(queries)

    assert queries_with(2) == queries_with(12)


def test_an_auditor_sees_the_meetings_without_the_connect_link_button(
    role_client, customer, google_app
):
    meeting_on(calendar_of(customer, google_app, "alice"), "Morning standup", -3)

    page = page_of(role_client("Auditor"), customer)

    assert "Morning standup" in section(page)
    assert reverse("admin:calendars_consentlink_connect", args=[customer.pk]) not in page


@pytest.mark.parametrize("role", ["Admin", "Support"])
def test_the_page_has_a_create_connect_link_button(role_client, customer, role):
    page = page_of(role_client(role), customer)

    url = reverse("admin:calendars_consentlink_connect", args=[customer.pk])
    assert f'<li><a href="{url}">Create connect link</a></li>' in page


def test_a_customer_without_meetings_says_so(role_client, customer):
    meetings = section(page_of(role_client("Support"), customer))

    assert "No meeting of this customer's calendars starts between" in meetings
