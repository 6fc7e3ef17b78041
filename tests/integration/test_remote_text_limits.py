"""Remote text is cut to its column where it is stored, and one bad row never stops a refresh.

Run on PostgreSQL too: only there does a value longer than its column fail (DataError).
"""

from __future__ import annotations

import time

from django.db import DataError
from django.urls import reverse

from calendars.actions import refresh
from calendars.actions.credentials import list_raw_calendars
from calendars.actions.refresh import refresh_all, refresh_integration
from calendars.lib.remote_values import REMOTE_TEXT_MAX_CHARS
from calendars.models import Credential, RawCalendar, RefreshRun


def test_long_remote_text_from_a_refresh_is_cut_to_its_columns(
    admin_client, sandbox, make_integration
):
    integration = make_integration()
    sandbox.force(
        integration.remote_id,
        status="s" * 100,
        status_message="m" * 900_000,  # near the sandbox's 1 MB body limit
        sync_status="f" * 100,
        sync_error="e" * 5_000,
    )

    refresh_integration(integration.pk)

    integration.refresh_from_db()
    assert integration.status == "error"
    assert integration.remote_status == "s" * 63 + "…"
    assert integration.sync_status == "f" * 63 + "…"
    assert integration.remote_status_message == "m" * (REMOTE_TEXT_MAX_CHARS - 1) + "…"
    assert len(integration.sync_error) == REMOTE_TEXT_MAX_CHARS
    assert len(integration.error_message) <= REMOTE_TEXT_MAX_CHARS
    assert len(integration.status_changes.first().message) <= REMOTE_TEXT_MAX_CHARS
    page = admin_client.get(reverse("admin:calendars_integration_change", args=[integration.pk]))
    assert page.status_code == 200


def test_a_nul_character_in_an_answer_is_stored_replaced(sandbox, make_integration):
    integration = make_integration()
    sandbox.force(integration.remote_id, status="error", status_message="quota\x00exceeded")

    refresh_integration(integration.pk)

    integration.refresh_from_db()
    assert integration.remote_status_message == "quota\ufffdexceeded"


def test_long_calendar_names_and_emails_are_cut_and_overlong_ids_left_out(
    sandbox, customer, google_app
):
    long_email = "a" * 600 + "@example.com"  # the sandbox names the primary calendar by it
    fits = Credential.objects.create(
        customer=customer,
        oauth_app=google_app,
        account_email="a@example.com",
        refresh_token=f"1//refresh:{long_email}",
    )
    too_long = Credential.objects.create(
        customer=customer,
        oauth_app=google_app,
        account_email="b@example.com",
        refresh_token="1//refresh:" + "b" * 1100 + "@example.com",  # ids over 1,024
    )

    stored = list_raw_calendars(fits)
    left_out = list_raw_calendars(too_long)

    primary = RawCalendar.objects.get(credential=fits, is_primary=True)
    assert primary.provider_id == long_email
    assert primary.name == long_email[:499] + "…"
    assert primary.email == long_email[:253] + "…"
    assert (len(stored), len(left_out)) == (3, 0)
    too_long.refresh_from_db()
    assert too_long.last_check_ok is True
    assert "3 left out" in too_long.last_check_message


def test_one_integration_that_cannot_be_stored_does_not_stop_the_refresh(
    sandbox, make_integration, monkeypatch
):
    first = make_integration()
    bad = make_integration("alice.team@group.calendar.google.com")
    last = make_integration("alice.oncall@group.calendar.google.com")
    time.sleep(0.35)  # every sync has finished: each integration needs its own GET and write
    apply_remote = refresh.apply_remote

    def refuse_one(integration_id: int, *args: object, **kwargs: object) -> object:
        if integration_id == bad.pk:
            raise DataError("value too long for type character varying(64)")
        return apply_remote(integration_id, *args, **kwargs)

    monkeypatch.setattr(refresh, "apply_remote", refuse_one)

    summary = refresh_all()

    assert (summary.checked, summary.failed, summary.changed) == (3, 1, 2)
    for integration in (first, bad, last):
        integration.refresh_from_db()
    assert (first.status, bad.status, last.status) == ("active", "syncing", "active")
    run = RefreshRun.objects.get()
    assert run.succeeded and run.failed == 1
    assert f"integration {bad.pk}: DataError: value too long" in run.error
