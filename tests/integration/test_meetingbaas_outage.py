"""Meeting BaaS down (503s and timeouts, until told otherwise): refresh, window syncs and bots
back off together behind one shared breaker, the home page says so once, nothing a person asked
for is dropped, and everything is caught up once it answers again.

The clock is frozen at a known moment (09:02 UTC, 10:02 in Paris) and moved past the probe
interval with time-machine, so the probes are counted without waiting for them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests
import time_machine
from django.test import TestCase
from django.urls import reverse

from calendars.actions import bulk
from calendars.actions.refresh import refresh_every_version
from calendars.meetingbaas.errors import MeetingBaasError, Unavailable, Unreachable
from calendars.meetings import bots
from calendars.meetings.sync import queue_due_syncs, sync_windows
from calendars.models import (
    ActionRecord,
    BotAttempt,
    BotPolicy,
    BulkJob,
    BulkJobItem,
    Integration,
    Meeting,
    RefreshRun,
)
from calendars.outage import breaker
from tests.support.meetings import active_integration, sync

# Every Meeting BaaS path of both versions (OAuth paths are the providers', not its).
EVERY_API_PATH = r"/(v2/)?calendar.*"
STARTS = datetime(2026, 12, 7, 9, 2, tzinfo=UTC)
INDEX = reverse("admin:index")
NOTICE = "Meeting BaaS unreachable since 10:02 CET"


@pytest.fixture
def outage_settings(settings):
    settings.TIME_ZONE = "Europe/Paris"
    settings.MEETINGBAAS_TIMEOUT = 0.3
    settings.MEETINGBAAS_MAX_RETRY_WAIT = 0.01
    settings.MEETINGBAAS_OUTAGE_FAILURES = 5
    settings.MEETINGBAAS_OUTAGE_PROBE_SECONDS = 30
    settings.FIX_CHECK_SECONDS = 2
    settings.FIX_CHECK_INTERVAL_SECONDS = 0.2
    return settings


@pytest.fixture
def clock(outage_settings):
    with time_machine.travel(STARTS, tick=True) as traveller:
        yield traveller


@pytest.fixture
def two(clock, sandbox, make_integration, customer) -> list[Integration]:
    """Two active v2 integrations, their windows synced, and a "record every meeting" policy
    switched on afterwards (so no bot is asked for yet)."""
    first = active_integration(make_integration, sandbox, "v2")
    second = active_integration(
        lambda: make_integration("alice.team@group.calendar.google.com"), sandbox, "v2"
    )
    for integration in (first, second):
        sync(integration)
    BotPolicy.objects.create(customer=customer, mode=BotPolicy.Mode.RECORD_ALL)
    return [first, second]


def go_down(sandbox) -> None:
    """Listings of events hang past the client's timeout; every other call answers 503."""
    sandbox.fault("GET", r"/v2/calendars/[^/]+/events", "hang", delay=0.6, count=None)
    sandbox.fault("*", EVERY_API_PATH, "status", status=503, count=None)


def come_back(sandbox) -> None:
    sandbox.control("DELETE", "faults")


def api_calls(sandbox) -> int:
    return sum(
        1
        for r in sandbox.control("GET", "requests")
        if r["path"].startswith(("/v2/calendar", "/calendar"))
    )


def everything_that_calls(integrations: list[Integration]) -> None:
    """What the schedules and the policy run: window syncs, the refresh, the policy's bots."""
    sync_windows([i.pk for i in integrations])
    with pytest.raises(MeetingBaasError):
        refresh_every_version()
    wanting = Meeting.objects.filter(has_bot=False).exclude(meeting_url="")
    bots.apply_policy(list(wanting.values_list("pk", flat=True)[:3]))


def test_a_down_api_gets_one_probe_per_interval_not_a_retry_storm(clock, sandbox, two):
    go_down(sandbox)
    before = api_calls(sandbox)

    everything_that_calls(two)
    everything_that_calls(two)

    # The calls that found it down, then none: no retry, no other caller.
    opened_after = api_calls(sandbox) - before
    assert opened_after <= 5
    outage = breaker.current()
    assert outage is not None and outage.headline == NOTICE
    for _ in range(4):  # two minutes: a probe each 30 s, whoever makes it
        clock.shift(timedelta(seconds=31))
        calls = api_calls(sandbox)
        everything_that_calls(two)
        queue_due_syncs()
        assert api_calls(sandbox) - calls == 1
    assert breaker.current().probes == 4


def test_the_home_page_says_once_since_when(clock, admin_client, sandbox, two):
    go_down(sandbox)
    for _ in range(3):
        everything_that_calls(two)

    html = admin_client.get(INDEX).content.decode()

    assert html.count("Meeting BaaS unreachable") == 1
    assert f"<strong>{NOTICE}.</strong>" in html
    come_back(sandbox)
    clock.shift(timedelta(seconds=31))
    sync_windows([two[0].pk])  # the probe, answered
    assert "Meeting BaaS unreachable" not in admin_client.get(INDEX).content.decode()


def test_work_asked_for_during_the_outage_is_refused_saying_why_or_done_after(
    clock, admin_client, sandbox, two
):
    go_down(sandbox)
    everything_that_calls(two)
    assert breaker.current() is not None
    meeting = Meeting.objects.filter(integration=two[0], has_bot=False, starts_at__gt=STARTS)
    meeting = meeting.exclude(meeting_url="").order_by("starts_at").first()

    # A refresh asked for: refused, saying why, recorded.
    changelist = reverse("admin:calendars_integration_changelist")
    refused = admin_client.post(
        changelist, {"action": "refresh_status", "_selected_action": [two[0].pk]}, follow=True
    )
    assert f"Nothing queued: {NOTICE}." in refused.content.decode()
    record = ActionRecord.objects.get(action="refresh status")
    assert not record.succeeded and NOTICE in record.message
    # A bot asked for by hand: fails at once, saying why.
    by_hand = admin_client.post(
        reverse("admin:calendars_meeting_changelist"),
        {"action": "schedule_bot", "_selected_action": [meeting.pk], "confirm": "1"},
        follow=True,
    )
    assert f"Not done for now: {NOTICE}: not sent" in by_hand.content.decode()
    assert not BotAttempt.objects.get(meeting=meeting, action="schedule").succeeded
    # A bulk fix: its items wait, saying why.
    with TestCase.captureOnCommitCallbacks(execute=True):
        job = bulk.start(
            BulkJob.Kind.RESYNC, [i.pk for i in two], acting_user=None, description="outage"
        )
    assert set(job.items.values_list("state", flat=True)) == {"pending"}
    assert job.items.filter(reason__startswith=bulk.HELD + NOTICE).exists()

    come_back(sandbox)
    clock.shift(timedelta(seconds=31))
    answered_at = datetime.now(UTC)
    with TestCase.captureOnCommitCallbacks(execute=True):
        queue_due_syncs()  # the probe: one sync, answered
    assert breaker.current() is None
    with TestCase.captureOnCommitCallbacks(execute=True):
        queue_due_syncs()  # the catch-up

    # Every window synced again, every integration refreshed, the bulk job finished, and the
    # policy's bots scheduled, the meeting's whose hand-made bot failed included.
    for integration in two:
        assert Meeting.objects.filter(integration=integration, synced_at__gte=answered_at).exists()
    assert RefreshRun.objects.filter(started_at__gte=answered_at, error="").exists()
    assert set(BulkJobItem.objects.filter(job=job).values_list("state", flat=True)) == {"done"}
    meeting.refresh_from_db()
    assert meeting.has_bot and meeting.bot_failure == ""
    assert not Meeting.objects.filter(
        has_bot=False, is_cancelled=False, starts_at__gt=datetime.now(UTC)
    ).exclude(meeting_url="")
    assert not breaker.claim_catch_up()  # taken once


def test_processes_share_one_outage_and_one_probe_at_a_time(db, clock):
    # Two breakers stand for two processes (or hosts): all they share is the database.
    web, worker = breaker.DatabaseBreaker(), breaker.DatabaseBreaker()
    for _ in range(4):
        worker.failed(Unavailable("no answer within 10 s"))
    web.before_call()  # four in a row: not yet
    web.failed(Unavailable("HTTP 503"))

    with pytest.raises(Unreachable, match="since 10:02 CET: not sent"):
        worker.before_call()
    clock.shift(timedelta(seconds=31))
    web.before_call()  # the probe
    with pytest.raises(Unreachable):
        worker.before_call()  # one probe at a time
    web.answered()
    worker.before_call()
    assert breaker.current() is None and breaker.claim_catch_up()


def test_an_outage_fault_lasts_until_the_faults_are_cleared(sandbox):
    go_down(sandbox)
    headers = {"x-meeting-baas-api-key": "test-key"}

    answers = [
        requests.get(f"{sandbox.url}/v2/calendars", headers=headers, timeout=5).status_code
        for _ in range(25)
    ]
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(f"{sandbox.url}/v2/calendars/x/events", headers=headers, timeout=0.2)

    assert answers == [503] * 25
    assert sandbox.control("DELETE", "faults") == {"cleared": 2}
    listed = requests.get(f"{sandbox.url}/v2/calendars", headers=headers, timeout=5)
    assert listed.status_code == 200
