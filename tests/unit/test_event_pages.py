"""Following event cursors: every page once, and never forever."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from calendars.meetingbaas import errors
from calendars.meetingbaas.events import MAX_EVENT_PAGES, iso_z, iter_pages, require_target
from calendars.meetingbaas.types import (
    BotConfig,
    EventPage,
    EventStatus,
    MeetingPlatform,
    RemoteEvent,
)

START = datetime(2026, 3, 2, 9, tzinfo=UTC)


def event(n: int) -> RemoteEvent:
    return RemoteEvent(
        event_id=uuid.uuid4(),
        title=f"Meeting {n}",
        start=START + timedelta(hours=n),
        end=START + timedelta(hours=n, minutes=30),
        status=EventStatus.CONFIRMED,
        meeting_url=None,
        platform=MeetingPlatform.NONE,
        is_recurring=False,
    )


def test_it_follows_cursors_until_there_is_none():
    pages = {None: EventPage([event(0)], "a"), "a": EventPage([event(1)], "b")}
    pages["b"] = EventPage([event(2)], None)

    titles = [e.title for e in iter_pages(pages.__getitem__)]

    assert titles == ["Meeting 0", "Meeting 1", "Meeting 2"]


def test_a_cursor_sent_twice_is_a_bad_response_not_a_loop():
    pages = {None: EventPage([event(0)], "a"), "a": EventPage([event(1)], "a")}

    with pytest.raises(errors.BadResponse, match="sent before"):
        list(iter_pages(pages.__getitem__))


def test_it_stops_after_the_page_bound():
    fetched = []

    def endless(cursor: str | None) -> EventPage:
        fetched.append(cursor)
        return EventPage([], f"c{len(fetched)}")

    with pytest.raises(errors.BadResponse, match="pages"):
        list(iter_pages(endless))
    assert len(fetched) == MAX_EVENT_PAGES


def test_window_times_are_sent_in_utc_with_a_z():
    paris = START.astimezone(timezone(timedelta(hours=1)))
    assert iso_z(paris) == "2026-03-02T09:00:00Z"
    with pytest.raises(ValueError, match="aware"):
        iso_z(datetime(2026, 3, 2, 9))


@pytest.mark.parametrize(
    ("event_id", "series_id", "all_occurrences"),
    [(None, None, False), (None, "s", False), (None, None, True)],
)
def test_a_bot_call_must_name_its_events(event_id, series_id, all_occurrences):
    with pytest.raises(ValueError, match=r"event_id|series_id"):
        require_target(event_id, series_id, all_occurrences)


def test_bot_settings_keep_their_keys_out_of_repr():
    config = BotConfig(
        "Acme Notetaker", transcription_api_key="gladia-key-1", callback_secret="cb-secret-2"
    )

    assert "gladia-key-1" not in repr(config)
    assert "cb-secret-2" not in repr(config)
    assert "Acme Notetaker" in repr(config)
