"""v1 health: every `resync_all` answer reaches every v1 integration it names, and a periodic
check asks for one."""

from __future__ import annotations

import time

import pytest
from django_q.models import Schedule

from calendars import queue, tasks
from calendars.actions import bulk
from calendars.actions.integrations import resync_integration
from calendars.meetingbaas import errors
from calendars.models import BulkJob, Integration, StatusChange


@pytest.fixture
def v1_calendars(make_integration, settings) -> list[Integration]:
    settings.MEETINGBAAS_API_VERSION = "v1"
    made = [
        make_integration(),
        make_integration("alice.team@group.calendar.google.com"),
        make_integration("alice.oncall@group.calendar.google.com"),
    ]
    time.sleep(0.35)  # the sandbox finishes their first sync
    tasks.refresh_all_integrations()
    assert {i.api_version for i in made} == {"v1"}
    assert set(Integration.objects.values_list("status", flat=True)) == {"active"}
    return made


def status_of(integration: Integration) -> tuple[str, str]:
    integration.refresh_from_db()
    return integration.status, integration.error_message


def test_a_resync_puts_every_calendar_it_names_in_error_with_the_api_message(
    sandbox, v1_calendars, admin_user
):
    asked, team, oncall = v1_calendars
    sandbox.force(team.remote_id, status="error", status_message="Calendar API quota exceeded")
    sandbox.force(oncall.remote_id, status="permission_denied", status_message="Access denied")

    resync_integration(asked.pk, acting_user=admin_user)

    assert status_of(asked) == ("active", "")
    assert status_of(team) == ("error", "Calendar API quota exceeded")
    assert status_of(oncall) == ("error", "Access denied")
    change = StatusChange.objects.get(integration=team, to_status="error")
    assert (change.from_status, change.message, change.cause) == (
        "active",
        "Calendar API quota exceeded",
        "admin_action",
    )
    assert change.user == admin_user
    assert len(sandbox.requests_to("POST", "/calendars/resync_all")) == 1


def test_the_calendar_asked_about_fails_its_resync_and_is_in_error(sandbox, v1_calendars):
    asked = v1_calendars[0]
    sandbox.force(asked.remote_id, status="error", status_message="invalid_grant")

    with pytest.raises(errors.MeetingBaasError, match="invalid_grant"):
        resync_integration(asked.pk)

    assert status_of(asked) == ("error", "invalid_grant")
    assert StatusChange.objects.filter(integration=asked, to_status="error").count() == 1


def test_a_bulk_resync_applies_each_answer_to_the_other_calendars_too(
    sandbox, v1_calendars, settings
):
    settings.FIX_CHECK_SECONDS = 0
    asked, team, _ = v1_calendars
    sandbox.force(team.remote_id, status="error", status_message="Calendar API quota exceeded")

    job = bulk.start(BulkJob.Kind.RESYNC, [asked.pk], acting_user=None, description="one")
    bulk.run(job.pk)

    assert job.items.get().state == "done"
    assert status_of(team) == ("error", "Calendar API quota exceeded")


def test_a_calendar_synced_again_recovers_once_and_an_unchanged_error_is_not_recorded_again(
    sandbox, v1_calendars
):
    _, team, _ = v1_calendars
    sandbox.force(team.remote_id, status="error", status_message="quota")
    tasks.check_v1_health()
    tasks.check_v1_health()
    assert StatusChange.objects.filter(integration=team, to_status="error").count() == 1

    sandbox.force(team.remote_id, status="active", status_message=None)
    summary = tasks.check_v1_health()

    assert status_of(team) == ("active", "")
    recovery = StatusChange.objects.get(integration=team, from_status="error")
    assert (recovery.to_status, recovery.cause) == ("active", "refresh")
    assert summary == "0 in error, 1 recovered"


@pytest.mark.clock
def test_the_periodic_check_finds_a_broken_calendar_nobody_asked_about(sandbox, v1_calendars):
    _, _, oncall = v1_calendars
    sandbox.force(oncall.remote_id, status="error", status_message="Calendar was deleted")

    assert tasks.check_v1_health() == "1 in error, 0 recovered"

    assert status_of(oncall) == ("error", "Calendar was deleted")
    assert StatusChange.objects.get(integration=oncall, to_status="error").cause == "refresh"


def test_the_periodic_check_asks_nothing_without_v1_integrations(sandbox, make_integration):
    make_integration()  # v2

    assert tasks.check_v1_health() == "no v1 integration"
    assert sandbox.requests_to("POST", "/calendars/resync_all") == []


def test_a_disconnected_v1_integration_is_left_alone(sandbox, v1_calendars):
    _, team, _ = v1_calendars
    Integration.objects.filter(pk=team.pk).update(status="disconnected")
    sandbox.force(team.remote_id, status="error", status_message="quota")

    tasks.check_v1_health()

    assert status_of(team)[0] == "disconnected"


def test_the_check_is_scheduled_every_v1_health_minutes_and_zero_turns_it_off(db, settings):
    settings.V1_HEALTH_MINUTES = 15
    queue.ensure_schedules()
    schedule = Schedule.objects.get(name=queue.V1_HEALTH_SCHEDULE)
    assert (schedule.func, schedule.minutes) == ("calendars.tasks.check_v1_health", 15)

    settings.V1_HEALTH_MINUTES = 0
    queue.ensure_schedules()

    assert not Schedule.objects.filter(name=queue.V1_HEALTH_SCHEDULE).exists()
