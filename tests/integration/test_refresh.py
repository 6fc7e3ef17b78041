"""Refreshing statuses: one integration, all of them, and the schedule that does it."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django_q.models import Schedule

from calendars import queue, tasks
from calendars.actions.refresh import refresh_all, refresh_integration
from calendars.meetingbaas import errors
from calendars.models import Integration, RefreshRun, StatusChange


def test_a_finished_sync_turns_syncing_into_active_once(sandbox, make_integration):
    integration = make_integration()
    time.sleep(0.35)

    tasks.refresh_integration(integration.pk)
    tasks.refresh_integration(integration.pk)

    integration.refresh_from_db()
    assert integration.status == "active"
    assert integration.synced_at is not None and integration.sync_status == "success"
    changes = list(integration.status_changes.values_list("from_status", "to_status", "cause"))
    assert changes == [("syncing", "active", "refresh"), ("", "syncing", "created")]


def test_a_remote_error_is_stored_with_the_api_message(sandbox, make_integration):
    integration = make_integration()
    sandbox.force(
        integration.remote_id, status="error", status_message="Calendar API quota exceeded"
    )

    refresh_integration(integration.pk)

    integration.refresh_from_db()
    assert integration.status == "error"
    assert integration.error_message == "Calendar API quota exceeded"
    assert integration.remote_status == "error"
    assert integration.remote_status_message == "Calendar API quota exceeded"


def test_a_failed_sync_is_an_error_with_the_sync_message(sandbox, make_integration):
    integration = make_integration()
    sandbox.force(integration.remote_id, synced=True, sync_status="failed", sync_error="410 Gone")

    refresh_integration(integration.pk)

    integration.refresh_from_db()
    assert (integration.status, integration.error_message) == ("error", "410 Gone")


def test_a_connection_gone_remotely_is_disconnected(sandbox, make_integration):
    integration = make_integration()
    sandbox.control("POST", "reset")

    refresh_integration(integration.pk)

    integration.refresh_from_db()
    assert integration.status == "disconnected"
    assert StatusChange.objects.filter(to_status="disconnected", cause="refresh").count() == 1


def test_an_outage_changes_nothing(sandbox, make_integration):
    integration = make_integration()
    sandbox.fault("GET", "/v2/calendars/.*", "status", status=503, count=10)

    with pytest.raises(errors.Unavailable):
        refresh_integration(integration.pk)

    integration.refresh_from_db()
    assert integration.status == "syncing"
    assert integration.status_changes.count() == 1


def test_refresh_all_reads_pages_and_fetches_only_what_changed(sandbox, make_integration):
    first = make_integration()
    make_integration("alice.team@group.calendar.google.com")
    make_integration("alice.oncall@group.calendar.google.com")
    time.sleep(0.35)

    summary = refresh_all()
    gets_after_first = len(sandbox.requests_to("GET", "/v2/calendars/"))
    again = refresh_all()

    assert (summary.checked, summary.changed, summary.details_fetched) == (3, 3, 3)
    assert set(Integration.objects.values_list("status", flat=True)) == {"active"}
    assert (again.checked, again.changed, again.details_fetched) == (3, 0, 0)
    runs = RefreshRun.objects.filter(succeeded=True).order_by("started_at")
    assert [(r.listed, r.changed) for r in runs] == [(3, 3), (3, 0)]
    assert len(sandbox.requests_to("GET", "/v2/calendars/")) == gets_after_first
    first.refresh_from_db()
    assert first.last_refreshed_at is not None


def test_a_run_that_lists_a_connection_unchanged_moves_its_last_refreshed_at(
    sandbox, make_integration
):
    integration = make_integration()
    sandbox.force(integration.remote_id, synced=True)
    before = refresh_integration(integration.pk).last_refreshed_at
    time.sleep(0.01)

    summary = refresh_all()

    assert (summary.checked, summary.details_fetched) == (1, 0)
    integration.refresh_from_db()
    run = RefreshRun.objects.get()
    assert run.started_at < integration.last_refreshed_at < run.finished_at
    assert integration.last_refreshed_at > before
    assert integration.status_changes.count() == 2  # created, then active: the run wrote none


def test_refresh_all_notices_a_connection_deleted_remotely(sandbox, make_integration):
    integration = make_integration()
    sandbox.control("POST", "reset")

    tasks.refresh_all_integrations()

    integration.refresh_from_db()
    assert integration.status == "disconnected"


def test_v1_integrations_refresh_from_the_v1_listing(sandbox, make_integration, settings):
    settings.MEETINGBAAS_API_VERSION = "v1"
    integration = make_integration()
    assert integration.api_version == "v1"
    time.sleep(0.35)

    totals = tasks.refresh_all_integrations()

    integration.refresh_from_db()
    assert integration.status == "active"
    assert totals["changed"] == 1
    assert sandbox.requests_to("GET", "/calendar_events/")


def test_migrate_creates_the_refresh_schedule(db):
    schedule = Schedule.objects.get(name=queue.REFRESH_ALL_SCHEDULE)

    assert schedule.func == "calendars.tasks.refresh_all_integrations"
    assert schedule.minutes == settings.STATUS_REFRESH_MINUTES
    assert schedule.schedule_type == Schedule.MINUTES


def test_queue_settings_keep_timeout_below_retry_and_skip_catch_up():
    assert settings.Q_CLUSTER["timeout"] < settings.Q_CLUSTER["retry"]
    assert settings.Q_CLUSTER["timeout"] > settings.BULK_TASK_SECONDS
    assert settings.Q_CLUSTER["catch_up"] is False
