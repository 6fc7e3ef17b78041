"""The big lists and the home page cost the same queries with 3 rows (one in each status the
rows take) as with 20."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from calendars.actions.audit import record_action
from calendars.admin.accounts import RawCalendarAdmin
from calendars.admin.integrations import IntegrationAdmin
from calendars.models import (
    Credential,
    Customer,
    Integration,
    OAuthApp,
    RawCalendar,
    StatusChange,
    WebhookDelivery,
)

PAGES = [
    "admin:calendars_integration_changelist",
    "admin:calendars_statuschange_changelist",
    "admin:calendars_webhookdelivery_changelist",
    "admin:calendars_actionrecord_changelist",
    "admin:calendars_rawcalendar_changelist",
    "admin:index",
]


def add_rows(app: OAuthApp, user: object, first: int, count: int) -> None:
    """`count` customers, each with a credential, two raw calendars (one with a live
    integration), a status change, a webhook delivery and an action record."""
    now = timezone.now()
    for n in range(first, first + count):
        credential = Credential.objects.create(
            customer=Customer.objects.create(name=f"Customer {n}"),
            oauth_app=app,
            account_email=f"user{n}@example.com",
            refresh_token="1//refresh",
        )
        raw, _ = (
            RawCalendar.objects.create(
                credential=credential,
                provider_id=f"cal-{n}-{k}",
                name=f"Cal {n} {k}",
                listed_at=now,
            )
            for k in range(2)
        )
        integration = Integration.objects.create(
            credential=credential,
            raw_calendar=raw,
            remote_id=uuid.uuid4(),
            api_version="v2",
            provider=app.provider,
            status=("active", "error", "syncing")[n % 3],
            error_message="invalid_grant" if n % 3 == 1 else "",
        )
        integration.record_first_status("", user=None)
        WebhookDelivery.objects.create(
            api_version="v2",
            event="calendar.event_created",
            delivery_id=f"msg_{n}",
            payload={"event": "calendar.event_created", "data": {}},
            remote_id=integration.remote_id,
            integration=integration,
            outcome="recorded",
        )
        record_action(user, "refresh status", integration=integration, succeeded=True)


# The integrations list filtered by the worklist and sorted by each sortable column.
INTEGRATION_LISTS = [
    "?problem=any",
    "?problem=token_refused",
    "?problem=stuck_syncing",
    "?o=1",
    "?o=2",
    "?o=3",
    "?o=-3",
    "?o=4",
    "?o=-4",
]


@pytest.mark.parametrize(
    ("page", "query"),
    [(page, "") for page in PAGES]
    + [("admin:calendars_integration_changelist", query) for query in INTEGRATION_LISTS],
)
def test_a_page_costs_the_same_queries_with_twenty_rows_as_with_three(
    admin_client, admin_user, google_app, page, query
):
    add_rows(google_app, admin_user, 0, 3)
    url = reverse(page) + query
    admin_client.get(url)  # caches (content types, session) filled before counting
    with CaptureQueriesContext(connection) as three:
        admin_client.get(url)
    add_rows(google_app, admin_user, 3, 17)

    with CaptureQueriesContext(connection) as twenty:
        response = admin_client.get(url)

    assert response.status_code == 200
    if page != "admin:index" and "problem" not in query:
        assert len(response.context["cl"].result_list) >= 20
    assert StatusChange.objects.count() == 20
    assert len(twenty) == len(three), [q["sql"] for q in twenty.captured_queries]


def test_the_raw_calendar_list_links_each_live_integration_with_its_status(
    admin_client, admin_user, google_app
):
    add_rows(google_app, admin_user, 0, 2)
    error = Integration.objects.get(status="error")

    page = admin_client.get(reverse("admin:calendars_rawcalendar_changelist")).content.decode()

    url = reverse("admin:calendars_integration_change", args=[error.pk])
    assert f'<a class="status-chip status-error" href="{url}">Error</a>' in page
    assert page.count('class="status-chip status-') == 2  # one raw calendar each has none


@pytest.mark.parametrize("order", ["1", "-2"])
def test_a_page_of_a_longer_list_is_picked_by_id_then_loaded_with_what_it_shows(
    admin_client, admin_user, google_app, monkeypatch, order
):
    monkeypatch.setattr(IntegrationAdmin, "list_per_page", 4)
    add_rows(google_app, admin_user, 0, 10)
    sorted_by = {"1": ("raw_calendar__name", "-pk"), "-2": ("-credential__customer__name", "-pk")}
    expected = list(Integration.objects.order_by(*sorted_by[order]).values_list("pk", flat=True))
    url = reverse("admin:calendars_integration_changelist")

    with CaptureQueriesContext(connection) as queries:
        second = admin_client.get(url, {"o": order, "p": "2"})

    rows = second.context["cl"].result_list
    assert [row.pk for row in rows] == expected[4:8]
    assert {row.credential.customer.name for row in rows} <= {f"Customer {n}" for n in range(10)}
    (picked,) = [q["sql"] for q in queries.captured_queries if "LIMIT 4 OFFSET 4" in q["sql"]]
    assert (
        picked.startswith('SELECT "calendars_integration"."id"')
        and ", " not in picked.split(" FROM ")[0]
    )
    # Names are read with the rows, in one query, not one per row.
    with CaptureQueriesContext(connection) as fewer:
        monkeypatch.setattr(IntegrationAdmin, "list_per_page", 2)
        admin_client.get(url, {"o": order, "p": "2"})
    assert len(fewer) == len(queries)


def test_a_page_of_raw_calendars_is_picked_by_id_with_each_live_integration(
    admin_client, admin_user, google_app, monkeypatch
):
    monkeypatch.setattr(RawCalendarAdmin, "list_per_page", 3)
    add_rows(google_app, admin_user, 0, 4)  # 8 raw calendars, 4 with a live integration
    url = reverse("admin:calendars_rawcalendar_changelist")
    order = ("credential__account_email", "-is_primary", "name", "-pk")
    expected = list(RawCalendar.objects.order_by(*order).values_list("pk", flat=True))

    with CaptureQueriesContext(connection) as queries:
        second = admin_client.get(url, {"p": "2"})

    rows = second.context["cl"].result_list
    assert [row.pk for row in rows] == expected[3:6]
    live = {i.raw_calendar_id: i for i in Integration.objects.all()}
    assert [[i.pk for i in row.live_integrations] for row in rows] == [
        [live[row.pk].pk] if row.pk in live else [] for row in rows
    ]
    assert second.content.decode().count('class="status-chip status-') == sum(
        row.pk in live for row in rows
    )
    (picked,) = [q["sql"] for q in queries.captured_queries if "LIMIT 3 OFFSET 3" in q["sql"]]
    assert picked.startswith('SELECT "calendars_rawcalendar"."id"')
    assert ", " not in picked.split(" FROM ")[0]
    with CaptureQueriesContext(connection) as fewer:
        monkeypatch.setattr(RawCalendarAdmin, "list_per_page", 2)
        admin_client.get(url, {"p": "2"})
    assert len(fewer) == len(queries)
