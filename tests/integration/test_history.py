"""Connection history: who did what, field changes without secrets, timelines, CSV export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from calendars.actions.refresh import refresh_integration
from calendars.models import Credential, Customer, Integration, RawCalendar
from calendars.queries import history
from tests.support.webhook_signing import post_v2

EXPORT = reverse("admin:calendars_history_export")


def export(client, **params) -> list[dict]:
    response = client.get(EXPORT, {"download": "1", **params})
    assert response.status_code == 200
    assert response.streaming and response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def create_through_admin(client, raw: RawCalendar) -> Integration:
    client.post(
        reverse("admin:calendars_rawcalendar_changelist"),
        {"action": "create_integration", "_selected_action": [raw.pk]},
    )
    return Integration.objects.get(raw_calendar=raw)


def raw_calendar_of(credential: Credential) -> RawCalendar:
    return RawCalendar.objects.create(
        credential=credential,
        provider_id="alice@example.com",
        name="Alice",
        listed_at=timezone.now(),
    )


def test_the_creator_and_every_change_are_on_the_integration_page(
    admin_client, admin_user, sandbox, credential
):
    integration = create_through_admin(admin_client, raw_calendar_of(credential))
    sandbox.force(integration.remote_id, status="error", status_message="Quota exceeded")
    refresh_integration(integration.pk)
    post_v2(
        admin_client,
        {"event": "calendar.event_created", "data": {"calendar_id": str(integration.remote_id)}},
    )

    entries = history.integration_timeline(integration)
    html = admin_client.get(
        reverse("admin:calendars_integration_change", args=[integration.pk])
    ).content.decode()

    assert integration.history.earliest("history_date").history_user == admin_user
    kinds = [e.kind for e in entries]
    assert {"status", "action", "change", "webhook"} <= set(kinds)
    assert entries == sorted(entries, key=lambda e: e.at, reverse=True)
    status_change = next(
        e for e in entries if e.kind == "change" and e.summary == "integration changed"
    )
    assert ("status", "syncing", "error") in status_change.changes
    assert "Quota exceeded" in html and "create integration (done)" in html
    assert entries[0].summary.startswith("webhook calendar.event_created")


def test_a_replaced_secret_shows_as_replaced_never_as_its_value(admin_client, credential, sandbox):
    url = reverse("admin:calendars_credential_change", args=[credential.pk])
    data = {
        "customer": credential.customer.pk,
        "oauth_app": credential.oauth_app.pk,
        "account_email": credential.account_email,
        "refresh_token": "1//brand-new-token",
    }

    assert admin_client.post(url, data).status_code == 302
    page = admin_client.get(url).content.decode()

    change = next(e for e in history.credential_timeline(credential) if e.kind == "change")
    # A new token is a new grant: its consent time moves with it.
    assert [field for field, *_ in change.changes] == ["consented at", "refresh token"]
    assert ("refresh token", "", "replaced") in change.changes
    assert "replaced" in page and "brand-new-token" not in page
    assert not hasattr(credential.history.first(), "refresh_token")


@pytest.mark.clock
def test_the_export_holds_every_kind_of_entry_for_an_integration(admin_client, sandbox, credential):
    integration = create_through_admin(admin_client, raw_calendar_of(credential))
    sandbox.force(integration.remote_id, status="error", status_message="Quota exceeded")
    refresh_integration(integration.pk)
    post_v2(
        admin_client,
        {"event": "calendar.event_created", "data": {"calendar_id": str(integration.remote_id)}},
    )

    rows = export(admin_client, integration=integration.pk)

    assert {row["kind"] for row in rows} == {"status", "action", "change", "webhook"}
    assert all(row["integration"] in (str(integration.pk), "") for row in rows)
    assert [row["time"] for row in rows] == sorted(row["time"] for row in rows)
    assert any(row["field"] == "status" and row["after"] == "error" for row in rows)


@pytest.mark.clock
def test_the_export_filters_by_customer_and_date(admin_client, sandbox, credential, google_app):
    create_through_admin(admin_client, raw_calendar_of(credential))
    other = Customer.objects.create(name="Other Co")
    other_credential = Credential.objects.create(
        customer=other,
        oauth_app=google_app,
        account_email="bob@example.com",
        refresh_token="bob@example.com",
    )
    raw = RawCalendar.objects.create(
        credential=other_credential,
        provider_id="bob@example.com",
        name="Bob",
        listed_at=timezone.now(),
    )
    create_through_admin(admin_client, raw)

    mine = export(admin_client, customer=credential.customer.pk)
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()  # a day in TIME_ZONE
    future = export(admin_client, start=tomorrow)

    assert mine and all(row["customer"] in ("Acme Corp", "") for row in mine)
    assert not any("bob@example.com" in " ".join(row.values()) for row in mine)
    assert future == []


def test_a_reversed_date_range_is_a_form_error(admin_client):
    response = admin_client.get(
        EXPORT, {"download": "1", "start": "2026-02-01", "end": "2026-01-01"}
    )

    assert response.status_code == 200
    assert b"The start date is after the end date." in response.content
