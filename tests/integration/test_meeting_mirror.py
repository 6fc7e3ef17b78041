"""The meetings mirror: the window sync, and webhooks applied repeated and out of order."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from calendars.actions.refresh import refresh_integration
from calendars.meetingbaas.types import EventStatus, RemoteEvent
from calendars.meetings import mirror, sync
from calendars.meetings.identity import same_meeting_key
from calendars.meetings.sync import sync_window
from calendars.models import Meeting, WebhookDelivery
from tests.support.meetings import active_integration, add_event, deliver, webhook

Outcome = WebhookDelivery.Outcome


@pytest.fixture(params=["v2", "v1"])
def integration(request, sandbox, make_integration):
    return active_integration(make_integration, sandbox, request.param)


def events_path(integration) -> str:
    if integration.api_version == "v1":
        return "/calendar_events/"
    return f"/v2/calendars/{integration.remote_id}/events"


@pytest.mark.clock
def test_the_window_sync_keeps_exactly_the_window_in_one_listing(sandbox, integration):
    connection = sandbox.connection(integration.remote_id)
    within = mirror.window()
    expected = {str(e.id) for e in sandbox.state.events_of(connection) if within.holds(e.start)}
    calls_before = len(sandbox.requests_to("GET", events_path(integration)))

    result = sync_window(integration.pk)

    stored = set(Meeting.objects.values_list("remote_event_id", flat=True))
    assert {str(e) for e in stored} == expected
    assert result.listed == len(expected)
    # One paged listing of the window, never one request per event.
    assert len(sandbox.requests_to("GET", events_path(integration))) == calls_before + 1
    focus = Meeting.objects.filter(title="Focus time").first()
    assert focus is not None and focus.meeting_url == "" and focus.platform == "none"
    assert Meeting.objects.filter(platform="zoom", title="Team standup").exists()


def test_a_meeting_moved_out_of_the_window_leaves_the_mirror(sandbox, integration):
    event_id = add_event(sandbox, integration, title="Board meeting", in_hours=3)
    sync_window(integration.pk)
    assert Meeting.objects.filter(title="Board meeting").exists()

    later = timezone.now() + timedelta(days=40)
    sandbox.control("POST", f"events/{event_id}", {"start": later.isoformat()})
    sync_window(integration.pk)

    assert not Meeting.objects.filter(title="Board meeting").exists()


@pytest.mark.clock
def test_a_listing_that_changes_nothing_only_dates_the_meetings(sandbox, integration):
    sync_window(integration.pk)
    before = dict(Meeting.objects.values_list("pk", "synced_at"))
    rows = {m.pk: m.title for m in Meeting.objects.all()}

    with CaptureQueriesContext(connection) as queries:
        sync_window(integration.pk)

    writes = [q["sql"] for q in queries.captured_queries if 'calendars_meeting"' in q["sql"]]
    assert not [sql for sql in writes if sql.startswith("INSERT")]
    (dated,) = [sql for sql in writes if sql.startswith("UPDATE")]
    assert '"synced_at"' in dated and '"title"' not in dated
    after = dict(Meeting.objects.values_list("pk", "synced_at"))
    assert after.keys() == before.keys() and all(after[pk] > before[pk] for pk in before)
    assert {m.pk: m.title for m in Meeting.objects.all()} == rows


def test_an_empty_listing_forgets_the_meetings_held_unless_news_about_them_is_newer(
    sandbox, integration
):
    connection = sandbox.connection(integration.remote_id)
    sandbox.state.events_of(connection)
    sandbox.state.events[connection.id].clear()  # every event deleted remotely
    now = timezone.now()
    for title, news_at in (("Deleted remotely", now - timedelta(hours=1)), ("Added since", None)):
        Meeting.objects.create(
            integration=integration,
            remote_event_id=uuid.uuid4(),
            title=title,
            starts_at=now + timedelta(hours=2),
            ends_at=now + timedelta(hours=3),
            synced_at=now,
            remote_updated_at=news_at or now + timedelta(minutes=5),
        )

    result = sync_window(integration.pk)

    assert (result.listed, result.pruned) == (0, 1)
    assert list(Meeting.objects.values_list("title", flat=True)) == ["Added since"]


def test_a_repeated_webhook_changes_nothing_more(client, sandbox, integration):
    event_id = add_event(sandbox, integration, title="Quarterly review")
    body = webhook(sandbox, integration, "calendar.event_created", [event_id])

    for _ in range(3):
        deliver(client, integration, body)

    meeting = Meeting.objects.get()
    assert (meeting.title, str(meeting.remote_event_id)) == ("Quarterly review", event_id)
    assert not meeting.has_bot and not meeting.is_cancelled


def test_an_older_v2_webhook_never_overwrites_newer_news(client, sandbox, make_integration):
    integration = active_integration(make_integration, sandbox, "v2")
    event_id = add_event(sandbox, integration, title="Old title")
    older = webhook(sandbox, integration, "calendar.event_created", [event_id])
    sandbox.control("POST", f"events/{event_id}", {"title": "New title"})
    newer = webhook(sandbox, integration, "calendar.event_updated", [event_id])

    deliver(client, integration, newer)
    deliver(client, integration, older, age=timedelta(seconds=90))

    assert Meeting.objects.get().title == "New title"
    outcomes = dict(WebhookDelivery.objects.values_list("event", "outcome"))
    assert outcomes == {
        "calendar.event_updated": Outcome.APPLIED,
        "calendar.event_created": Outcome.STALE,
    }


def test_a_v2_cancellation_marks_the_meeting_cancelled(client, sandbox, make_integration):
    integration = active_integration(make_integration, sandbox, "v2")
    event_id = add_event(sandbox, integration)
    deliver(
        client, integration, webhook(sandbox, integration, "calendar.event_created", [event_id])
    )

    sandbox.control("POST", f"events/{event_id}", {"cancelled": True})
    deliver(
        client, integration, webhook(sandbox, integration, "calendar.event_cancelled", [event_id])
    )

    assert Meeting.objects.get().is_cancelled


def test_an_older_window_listing_never_overwrites_a_newer_webhook(
    client, sandbox, make_integration, monkeypatch
):
    integration = active_integration(make_integration, sandbox, "v2")
    event_id = add_event(sandbox, integration, title="Before")
    sync_window(integration.pk)
    time.sleep(1)  # Svix times are whole seconds: the webhook is sent a second later
    sandbox.control("POST", f"events/{event_id}", {"title": "After"})
    deliver(
        client, integration, webhook(sandbox, integration, "calendar.event_updated", [event_id])
    )
    # A listing that began before the webhook was sent, and still says "Before".
    started = timezone.now() - timedelta(minutes=1)
    sandbox.control("POST", f"events/{event_id}", {"title": "Before"})
    monkeypatch.setattr("calendars.meetings.sync.timezone.now", lambda: started)

    sync_window(integration.pk)

    assert Meeting.objects.get(remote_event_id=event_id).title == "After"


def test_a_v1_sync_fetches_the_events_it_names(client, sandbox, make_integration):
    integration = active_integration(make_integration, sandbox, "v1")
    event_id = add_event(sandbox, integration, title="Planning")
    sandbox.control("POST", f"events/{event_id}", {"title": "Planning (moved)"})

    response = deliver(
        client, integration, webhook(sandbox, integration, "calendar.event_updated", [event_id])
    )

    assert response.status_code == 200
    meeting = Meeting.objects.get()
    assert meeting.title == "Planning (moved)"
    # v1 names the event alone: the portal read it, organizer included.
    assert sandbox.requests_to("GET", f"/calendar_events/{event_id}")
    assert meeting.organizer_email == "alice@example.com"


def test_a_batch_out_of_time_passes_the_rest_on_and_syncs_each_window_once(
    sandbox, make_integration, settings, monkeypatch
):
    sandbox.state.sync_delay = 0
    calendars = [
        "alice@example.com",
        "alice.team@group.calendar.google.com",
        "alice.oncall@group.calendar.google.com",
    ]
    integrations = [refresh_integration(make_integration(c).pk) for c in calendars]
    settings.BULK_TASK_SECONDS = 0  # each task syncs one window, then passes the rest on
    passed_on = []
    monkeypatch.setattr(
        sync.queue, "enqueue", lambda task, ids, **options: passed_on.append((task, ids))
    )

    result = sync.sync_windows([i.pk for i in integrations])

    assert result == {"synced": 1, "skipped": 0, "failed": 0, "deferred": 0, "passed_on": 2}
    assert passed_on == [("sync_meeting_windows", [i.pk for i in integrations[1:]])]
    assert sync.sync_windows(passed_on.pop()[1])["passed_on"] == 1
    assert sync.sync_windows(passed_on.pop()[1]) == {
        "synced": 1,
        "skipped": 0,
        "failed": 0,
        "deferred": 0,
    }
    calls = sandbox.requests_to("GET", "/v2/calendars/")
    listed = [r["path"] for r in calls if r["path"].endswith("/events")]
    assert sorted(listed) == sorted(f"/v2/calendars/{i.remote_id}/events" for i in integrations)


def test_a_meeting_that_has_begun_stays_when_the_listing_no_longer_has_it(sandbox, integration):
    connection = sandbox.connection(integration.remote_id)
    sandbox.state.events_of(connection)
    sandbox.state.events[connection.id].clear()  # nothing listed any more
    now = timezone.now()
    for title, starts in (("This morning", now - timedelta(hours=3)), ("Later", now)):
        Meeting.objects.create(
            integration=integration,
            remote_event_id=uuid.uuid4(),
            title=title,
            starts_at=starts + timedelta(hours=2) if title == "Later" else starts,
            ends_at=starts + timedelta(hours=3),
            synced_at=now - timedelta(hours=4),
            remote_updated_at=now - timedelta(hours=4),
        )

    sync_window(integration.pk)

    assert list(Meeting.objects.values_list("title", flat=True)) == ["This morning"]


def test_past_meetings_are_kept_the_history_days_then_pruned_in_batches(
    integration, settings, monkeypatch
):
    settings.MEETINGS_HISTORY_DAYS = 90
    monkeypatch.setattr(mirror, "PRUNE_BATCH", 2)
    monkeypatch.setattr(mirror, "PRUNE_BATCHES", 2)
    now = timezone.now()
    for days in (3, 89, 91, 92, 93, 94, 95):
        starts = now - timedelta(days=days)
        Meeting.objects.create(
            integration=integration,
            remote_event_id=uuid.uuid4(),
            title=f"{days} days ago",
            starts_at=starts,
            ends_at=starts + timedelta(hours=1),
            synced_at=starts,
        )

    assert mirror.prune_outside(now=now) == 4  # two batches of two, the oldest first
    assert mirror.prune_outside(now=now) == 1

    left = set(Meeting.objects.values_list("title", flat=True))
    assert left == {"3 days ago", "89 days ago"}


def test_the_meetings_a_webhook_brings_are_judged_at_once(client, sandbox, integration):
    event_id = add_event(sandbox, integration, title="Design review", in_hours=3)

    deliver(
        client, integration, webhook(sandbox, integration, "calendar.event_created", [event_id])
    )

    meeting = Meeting.objects.get(remote_event_id=event_id)
    # The default policy records only what someone scheduled.
    assert (meeting.outcome, meeting.outcome_cause) == ("no_bot", "policy")


def test_news_is_stored_exactly_whatever_its_text_and_times(sandbox, make_integration):
    # PostgreSQL takes the rows as one JSON document: quotes, backslashes, emoji, line
    # separators and microseconds come back as they were sent.
    integration = active_integration(make_integration, sandbox, "v2")
    start = timezone.now().replace(microsecond=123456) + timedelta(hours=5)
    title = 'Q4 "plan" \\ review \' ✓ 🚀 \u2028 {"json": [1]} end'
    url = 'https://us02web.zoom.us/j/123?pwd=a"b\\c'
    event = RemoteEvent(
        event_id=uuid.uuid4(),
        title=title,
        start=start,
        end=start + timedelta(minutes=30, microseconds=1),
        status=EventStatus.CONFIRMED,
        meeting_url=url,
        platform="zoom",
        is_recurring=False,
        series_id='series \\ "one"',
    )
    as_of = timezone.now().replace(microsecond=654321)

    mirror.apply_events(integration, [event], as_of=as_of)

    stored = Meeting.objects.get(remote_event_id=event.event_id)
    assert (stored.title, stored.meeting_url, stored.series_id) == (title, url, event.series_id)
    assert (stored.starts_at, stored.ends_at) == (event.start, event.end)
    assert stored.remote_updated_at == as_of
    assert stored.same_meeting_key == same_meeting_key(url) != ""
