"""The v1 client's events and bots against the live sandbox: where v1 differs from v2."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

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
from calendars.meetingbaas.v1 import V1Client
from tests.support.client_events import synced_calendar, upcoming, window

pytestmark = pytest.mark.clock

GRANT = OAuthGrant(Platform.GOOGLE, "cid", "cs", "rt:carol@example.com")
OTHER = OAuthGrant(Platform.MICROSOFT, "cid", "cs", "rt:dan@contoso.example")
CONFIG = BotConfig("Acme Notetaker")


@pytest.fixture
def client(sandbox) -> V1Client:
    return V1Client(Transport(sandbox.transport_config()))


@pytest.fixture
def calendar(client, sandbox):
    return synced_calendar(client, sandbox, GRANT, "carol@example.com")


def test_it_lists_the_window_past_included_and_follows_next(client, calendar, sandbox):
    sandbox.control("POST", "config", {"event_page_limit": 5})

    events = list(client.iter_events(calendar, **window()))

    assert any(e.start < datetime.now(UTC) for e in events)  # "upcoming" would hide these
    assert len(events) > 5 and len({e.event_id for e in events}) == len(events)
    calls = sandbox.requests_to("GET", "/calendar_events/")
    assert calls[0]["query"]["calendar_id"] == str(calendar)
    assert calls[0]["query"]["status"] == "all"
    assert calls[0]["query"]["start_date_gte"].endswith("Z")
    assert calls[-1]["query"]["cursor"]


def test_an_event_carries_its_series_organizer_and_cancellation(client, calendar):
    events = list(client.iter_events(calendar, **window()))

    standup = next(e for e in events if e.title == "Team standup")
    offsite = next(e for e in events if e.title == "Team offsite")
    assert standup.is_recurring and standup.series_id.startswith("rec")
    assert standup.platform == MeetingPlatform.ZOOM
    assert standup.organizer_email == "carol@example.com"
    assert offsite.status == EventStatus.CANCELLED


def test_the_organizer_is_read_from_a_microsoft_event_too(client, sandbox):
    remote = synced_calendar(client, sandbox, OTHER, "")

    events = list(client.iter_events(remote, **window()))

    assert {e.organizer_email for e in events} >= {"dan@contoso.example"}


def test_scheduling_sends_v1s_bot_param_and_reads_the_settings_back(client, calendar, sandbox):
    call = upcoming(client, calendar, "Customer call")
    config = BotConfig(
        "Acme Notetaker",
        recording_mode=RecordingMode.SPEAKER_VIEW,
        entry_message="Recording for Acme",
        no_one_joined_timeout=300,
        transcription_enabled=True,
        transcription_api_key="gladia-key-do-not-show",
        callback_url="https://hooks.acme.example/bots",
    )

    outcome = client.schedule_bot(calendar, config=config, event_id=call.event_id)

    assert outcome.succeeded == [call.event_id] and outcome.failed == []
    sent = sandbox.requests_to("POST", f"/calendar_events/{call.event_id}/bot")[0]
    assert sent["query"] == {}
    assert sent["json"] == {
        "bot_name": "Acme Notetaker",
        "recording_mode": "speaker_view",
        "enter_message": "Recording for Acme",
        "noone_joined_timeout": 300,
        "webhook_url": "https://hooks.acme.example/bots",
        "speech_to_text": {"provider": "Gladia", "api_key": "[redacted]"},
    }
    bot = client.get_event(calendar, call.event_id).bot
    assert (bot.bot_name, bot.recording_mode) == ("Acme Notetaker", "speaker_view")
    assert bot.summary == "Acme Notetaker, speaker_view"


def test_a_second_bot_on_the_event_is_a_conflict(client, calendar):
    call = upcoming(client, calendar, "Customer call")
    client.schedule_bot(calendar, config=CONFIG, event_id=call.event_id)

    with pytest.raises(errors.BotConflict) as caught:
        client.schedule_bot(calendar, config=CONFIG, event_id=call.event_id)

    assert caught.value.http_status == 409


def test_an_event_without_a_meeting_url_is_refused(client, calendar):
    focus = upcoming(client, calendar, "Focus time")

    with pytest.raises(errors.InvalidRequest, match="no meeting URL"):
        client.schedule_bot(calendar, config=CONFIG, event_id=focus.event_id)


def test_all_occurrences_goes_in_the_query(client, calendar, sandbox):
    weekly = upcoming(client, calendar, "Weekly sync")

    outcome = client.schedule_bot(
        calendar, config=CONFIG, event_id=weekly.event_id, all_occurrences=True
    )

    assert len(outcome.succeeded) > 1 and weekly.event_id in outcome.succeeded
    sent = sandbox.requests_to("POST", f"/calendar_events/{weekly.event_id}/bot")[0]
    assert sent["query"] == {"all_occurrences": "true"}


def test_what_v1_cannot_do_is_said_plainly(client, calendar):
    with pytest.raises(errors.NotSupported):
        client.list_series(calendar)
    with pytest.raises(errors.NotSupported, match="by event"):
        client.schedule_bot(calendar, config=CONFIG, series_id="rec123", all_occurrences=True)


def test_update_needs_a_bot_and_removal_does_not(client, calendar, sandbox):
    call = upcoming(client, calendar, "Customer call")
    with pytest.raises(errors.EventNotFound):
        client.update_bot(calendar, config=CONFIG, event_id=call.event_id)

    client.schedule_bot(calendar, config=CONFIG, event_id=call.event_id)
    changed = client.update_bot(calendar, config=BotConfig("Renamed"), event_id=call.event_id)
    assert changed.succeeded == [call.event_id]
    assert sandbox.requests_to("PATCH", f"/calendar_events/{call.event_id}/bot")[-1]["json"] == {
        "bot_name": "Renamed"
    }

    assert client.remove_bot(calendar, event_id=call.event_id).succeeded == [call.event_id]
    assert client.remove_bot(calendar, event_id=call.event_id).succeeded == [call.event_id]
    assert client.get_event(calendar, call.event_id).bot is None


def test_another_calendars_event_is_not_found_here(client, calendar, sandbox):
    call = upcoming(client, calendar, "Customer call")
    other = synced_calendar(client, sandbox, GRANT, "carol.team@group.calendar.google.com")

    with pytest.raises(errors.EventNotFound):
        client.get_event(other, call.event_id)
    with pytest.raises(errors.EventNotFound):
        client.get_event(calendar, uuid.uuid4())


@pytest.mark.parametrize(("grant", "email"), [(GRANT, "carol@example.com"), (OTHER, "")])
def test_who_declined_is_read_from_the_providers_event(client, sandbox, grant, email):
    remote = synced_calendar(client, sandbox, grant, email)
    call = upcoming(client, remote, "Customer call")
    sandbox.control("POST", f"events/{call.event_id}", {"declined": True})

    declined = client.get_event(remote, call.event_id)

    assert declined.self_declined  # Google's attendee marked `self`, Microsoft's own answer
    assert declined.declined_by == {grant.refresh_token.split(":")[1]}
    assert not call.self_declined and call.declined_by == frozenset()
