"""The v2 client's events and bots against the live sandbox, error paths included."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from calendars.meetingbaas import errors
from calendars.meetingbaas.transport import Transport
from calendars.meetingbaas.types import (
    BotConfig,
    EventStatus,
    MeetingPlatform,
    OAuthGrant,
    Platform,
    RecordingMode,
)
from calendars.meetingbaas.v2 import LONGEST_MEETING, V2Client
from tests.support.client_events import synced_calendar, upcoming, window

pytestmark = pytest.mark.clock

GRANT = OAuthGrant(Platform.GOOGLE, "cid.apps.googleusercontent.com", "cs", "rt:alice@example.com")
CONFIG = BotConfig("Acme Notetaker", recording_mode=RecordingMode.AUDIO_ONLY)


@pytest.fixture
def client(sandbox) -> V2Client:
    return V2Client(Transport(sandbox.transport_config()))


@pytest.fixture
def calendar(client, sandbox):
    return synced_calendar(client, sandbox, GRANT, "alice@example.com")


def test_it_lists_the_window_with_the_spec_query(client, calendar, sandbox):
    span = window()

    page = client.list_events(calendar, **span)

    assert page.events and page.next_cursor is None
    assert all(span["start"] <= e.start and e.end <= span["end"] for e in page.events)
    assert [e.start for e in page.events] == sorted(e.start for e in page.events)
    query = sandbox.requests_to("GET", f"/v2/calendars/{calendar}/events")[0]["query"]
    assert query["limit"] == "250" and query["show_cancelled"] == "true"
    assert query["start_date"].endswith("Z") and query["end_date"].endswith("Z")


def test_it_follows_cursors_through_every_page(client, calendar, sandbox):
    span = window()
    listed = client.list_events(
        calendar, start=span["start"], end=span["end"] + LONGEST_MEETING
    ).events
    sandbox.control("POST", "config", {"event_page_limit": 4})

    paged = [e.event_id for e in client.iter_events(calendar, **span)]

    assert paged == [e.event_id for e in listed if e.start <= span["end"]]
    calls = sandbox.requests_to("GET", f"/v2/calendars/{calendar}/events")[1:]
    assert len(calls) == -(-len(listed) // 4)
    assert all("cursor" in call["query"] for call in calls[1:])


def test_a_meeting_starting_before_the_windows_end_and_ending_after_it_is_listed(
    client, calendar, sandbox
):
    """v2 filters on when an event ends, the window is about when it starts."""
    span = window()
    straddling = sandbox.control(
        "POST",
        "events",
        {
            "connection_id": str(calendar),
            "title": "Offsite planning",
            "start": (span["end"] - timedelta(minutes=30)).isoformat(),
            "end": (span["end"] + timedelta(minutes=30)).isoformat(),
        },
    )

    listed = {str(e.event_id) for e in client.iter_events(calendar, **span)}

    assert straddling["event_id"] in listed


def test_an_event_says_its_platform_organizer_and_bot(client, calendar):
    call = upcoming(client, calendar, "Customer call")
    focus = upcoming(client, calendar, "Focus time")

    detailed = client.get_event(calendar, call.event_id)

    assert detailed.platform == MeetingPlatform.TEAMS
    assert detailed.organizer_email == "pat@customer.example"
    assert detailed.updated_at is not None and detailed.bot is None
    assert detailed.series_id == call.series_id and not detailed.is_recurring
    assert focus.meeting_url is None and focus.platform == MeetingPlatform.NONE


def test_a_cancelled_event_is_listed_as_cancelled(client, calendar):
    offsite = next(e for e in client.iter_events(calendar, **window()) if e.title == "Team offsite")

    assert offsite.status == EventStatus.CANCELLED


def test_series_list_recurring_events_with_their_instances(client, calendar):
    page = client.list_series(calendar)

    standup = next(s for s in page.series if s.events[0].title == "Team standup")
    assert standup.is_recurring and len(standup.events) > 5
    assert {e.series_id for e in standup.events} == {standup.series_id}
    assert all(e.is_recurring for e in standup.events)


def test_an_unknown_event_is_event_not_found(client, calendar):
    with pytest.raises(errors.EventNotFound):
        client.get_event(calendar, uuid.uuid4())


def test_an_unknown_calendar_stays_a_missing_connection(client):
    with pytest.raises(errors.NotFound) as caught:
        client.list_events(uuid.uuid4(), **window())

    assert not isinstance(caught.value, errors.EventNotFound)


def test_scheduling_sends_the_spec_body_and_keeps_keys_out_of_the_log(client, calendar, sandbox):
    call = upcoming(client, calendar, "Customer call")
    config = BotConfig(
        "Acme Notetaker",
        recording_mode=RecordingMode.GALLERY_VIEW,
        entry_message="Recording for Acme",
        waiting_room_timeout=300,
        transcription_enabled=True,
        transcription_api_key="gladia-key-do-not-show",
        extra={"customer": "acme"},
    )

    outcome = client.schedule_bot(calendar, config=config, event_id=call.event_id)

    assert outcome.succeeded == [call.event_id] and outcome.is_complete
    sent = sandbox.requests_to("POST", f"/v2/calendars/{calendar}/bots")[0]["json"]
    assert sent == {
        "series_id": call.series_id,
        "all_occurrences": False,
        "event_id": str(call.event_id),
        "bot_name": "Acme Notetaker",
        "recording_mode": "gallery_view",
        "entry_message": "Recording for Acme",
        "extra": {"customer": "acme"},
        "timeout_config": {"waiting_room_timeout": 300},
        "transcription_enabled": True,
        "transcription_config": {"provider": "gladia", "api_key": "[redacted]"},
        "callback_enabled": False,
    }
    held = sandbox.state.events[calendar][call.event_id].bot
    assert held["transcription_config"]["api_key"] == "gladia-key-do-not-show"
    assert client.get_event(calendar, call.event_id).bot is not None


def test_an_event_without_a_meeting_url_fails_with_the_api_reason(client, calendar):
    focus = upcoming(client, calendar, "Focus time")

    outcome = client.schedule_bot(
        calendar, config=CONFIG, event_id=focus.event_id, series_id=focus.series_id
    )

    assert outcome.succeeded == []
    assert [(f.event_id, f.code) for f in outcome.failed] == [
        (focus.event_id, "MISSING_MEETING_URL")
    ]
    assert outcome.failed[0].message == "The event has no meeting URL."


def test_a_series_is_scheduled_in_part_with_each_refusal_explained(client, calendar, sandbox):
    moment = datetime.now(UTC)
    first, second, third, *rest = [
        e
        for e in client.iter_events(calendar, start=moment, end=moment + timedelta(days=40))
        if e.title == "Weekly sync"
    ]
    client.schedule_bot(calendar, config=CONFIG, event_id=first.event_id)
    sandbox.control("POST", f"events/{second.event_id}", {"meeting_url": None})

    outcome = client.schedule_bot(
        calendar, config=CONFIG, series_id=first.series_id, all_occurrences=True
    )

    reasons = {f.event_id: f.code for f in outcome.failed}
    assert reasons == {
        first.event_id: "BOT_ALREADY_SCHEDULED",
        second.event_id: "MISSING_MEETING_URL",
    }
    assert third.event_id in outcome.succeeded
    assert set(outcome.succeeded) == {third.event_id, *(e.event_id for e in rest)}


def test_settings_change_then_the_bot_goes(client, calendar, sandbox):
    call = upcoming(client, calendar, "Customer call")
    client.schedule_bot(calendar, config=CONFIG, event_id=call.event_id)

    changed = client.update_bot(
        calendar, config=BotConfig("Renamed bot"), event_id=call.event_id, series_id=call.series_id
    )
    assert changed.succeeded == [call.event_id]
    assert sandbox.state.events[calendar][call.event_id].bot["bot_name"] == "Renamed bot"

    removed = client.remove_bot(calendar, event_id=call.event_id, series_id=call.series_id)
    assert removed.succeeded == [call.event_id]
    assert client.get_event(calendar, call.event_id).bot is None
    with pytest.raises(errors.EventNotFound):
        client.remove_bot(calendar, event_id=call.event_id, series_id=call.series_id)


def test_a_bot_about_to_join_cannot_change(client, calendar, sandbox):
    soon = datetime.now(UTC) + timedelta(minutes=2)
    added = sandbox.control(
        "POST",
        "events",
        {
            "connection_id": str(calendar),
            "title": "Starts now",
            "start": soon.isoformat(),
            "meeting_url": "https://meet.google.com/abc-defg-hij",
        },
    )
    client.schedule_bot(calendar, config=CONFIG, event_id=added["event_id"])

    with pytest.raises(errors.BotConflict) as caught:
        client.update_bot(calendar, config=CONFIG, event_id=added["event_id"])

    assert caught.value.http_status == 409


def test_a_rate_limit_is_reported_and_nothing_is_scheduled(client, calendar, sandbox):
    call = upcoming(client, calendar, "Customer call")
    sandbox.fault("POST", r"/v2/calendars/.*/bots", "status", status=429, retry_after=30)

    with pytest.raises(errors.RateLimited) as caught:
        client.schedule_bot(calendar, config=CONFIG, event_id=call.event_id)

    assert caught.value.retry_after == 30
    assert client.get_event(calendar, call.event_id).bot is None


def test_a_short_rate_limit_is_waited_out(client, calendar, sandbox):
    call = upcoming(client, calendar, "Customer call")
    sandbox.fault("POST", r"/v2/calendars/.*/bots", "status", status=429, retry_after=0)

    outcome = client.schedule_bot(calendar, config=CONFIG, event_id=call.event_id)

    assert outcome.succeeded == [call.event_id]
    assert len(sandbox.requests_to("POST", f"/v2/calendars/{calendar}/bots")) == 2


def test_the_event_detail_says_who_declined_and_the_listing_cannot(client, calendar, sandbox):
    call = upcoming(client, calendar, "Customer call")
    sandbox.control("POST", f"events/{call.event_id}", {"declined": True})

    detailed = client.get_event(calendar, call.event_id)
    listed = next(
        e for e in client.iter_events(calendar, **window()) if e.event_id == call.event_id
    )

    assert detailed.declined_by == {"alice@example.com"} and detailed.self_declined
    assert listed.declined_by is None  # v2's listing names no attendees
