"""The customers list counts each customer's integrations by status, in one query per page."""

from __future__ import annotations

import uuid

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from calendars.actions.refresh import refresh_integration
from calendars.models import Credential, Customer, Integration, OAuthApp, RawCalendar

CHANGELIST = reverse("admin:calendars_customer_changelist")


def chip(customer: Customer, status: str, label: str) -> str:
    url = reverse("admin:calendars_integration_changelist")
    return (
        f'<a class="status-chip status-{status}" '
        f'href="{url}?customer={customer.pk}&amp;status__exact={status}">{label}</a>'
    )


def add_customer_with_integration(app: OAuthApp, n: int, status: str) -> Customer:
    """A customer with one integration, written directly: the list only reads these rows."""
    customer = Customer.objects.create(name=f"Customer {n:03}")
    credential = Credential.objects.create(
        customer=customer, oauth_app=app, account_email=f"c{n}@example.com", refresh_token="x"
    )
    raw = RawCalendar.objects.create(
        credential=credential, provider_id=f"c{n}@example.com", listed_at=timezone.now()
    )
    Integration.objects.create(
        credential=credential,
        raw_calendar=raw,
        remote_id=uuid.uuid4(),
        api_version="v2",
        provider=app.provider,
        status=status,
    )
    return customer


def test_each_customer_shows_its_integrations_by_status(
    role_client, sandbox, customer, make_integration
):
    sandbox.state.sync_delay = 0
    for provider_id in ("alice@example.com", "alice.team@group.calendar.google.com"):
        refresh_integration(make_integration(provider_id).pk)  # active once refreshed
    broken = make_integration("alice.oncall@group.calendar.google.com")
    sandbox.force(broken.remote_id, status="error", status_message="Calendar API quota exceeded")
    refresh_integration(broken.pk)
    Customer.objects.create(name="Idle Ltd")

    page = role_client("Support").get(CHANGELIST).content.decode()

    assert chip(customer, "active", "2 Active") in page
    assert chip(customer, "error", "1 Error") in page
    assert "status-syncing" not in page and "status-disconnected" not in page
    idle_row = page[page.index("Idle Ltd") :]
    assert idle_row[: idle_row.index("</tr>")].count("None") == 1


def test_the_list_costs_the_same_queries_however_many_customers(
    role_client, google_app, django_assert_max_num_queries
):
    client = role_client("Auditor")
    add_customer_with_integration(google_app, 0, "error")
    client.get(CHANGELIST)  # caches (content types, session) filled before counting
    with CaptureQueriesContext(connection) as one_customer:
        client.get(CHANGELIST)
    for n in range(1, 40):
        add_customer_with_integration(google_app, n, ("active", "error", "syncing")[n % 3])

    with django_assert_max_num_queries(len(one_customer)):
        page = client.get(CHANGELIST).content.decode()

    assert page.count('class="status-chip status-error"') == 14  # n = 0, 2, 5, ..., 38
