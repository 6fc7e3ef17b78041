"""What both API versions share about events and bots: times on the wire, paging, targets."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from calendars.meetingbaas import errors
from calendars.meetingbaas.transport import Transport
from calendars.meetingbaas.types import EventPage, RemoteEvent

# A window of a calendar is a few hundred events; a cursor still going after this many pages
# is a loop, not a calendar.
MAX_EVENT_PAGES = 200


def iso_z(moment: datetime) -> str:
    """`moment` in UTC as the specs' date-time pattern wants it (whole seconds, "Z")."""
    if moment.tzinfo is None:
        raise ValueError("event windows need aware datetimes")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iter_pages(fetch: Callable[[str | None], EventPage]) -> Iterator[RemoteEvent]:
    """Every event of `fetch`'s pages, following cursors, never more than MAX_EVENT_PAGES."""
    cursor: str | None = None
    seen: set[str] = set()
    for _ in range(MAX_EVENT_PAGES):
        page = fetch(cursor)
        yield from page.events
        cursor = page.next_cursor
        if not cursor:
            return
        if cursor in seen:
            raise errors.BadResponse("the event listing sent a cursor it had sent before")
        seen.add(cursor)
    raise errors.BadResponse(f"the event listing went on past {MAX_EVENT_PAGES} pages")


def require_target(
    event_id: UUID | str | None, series_id: str | None, all_occurrences: bool
) -> None:
    """A bot call names one event, or a series with `all_occurrences`."""
    if all_occurrences and series_id is None and event_id is None:
        raise ValueError("all_occurrences needs the series_id or one of its events")
    if not all_occurrences and event_id is None:
        raise ValueError("name the event_id, or a series_id with all_occurrences=True")


def call_about_events(
    transport: Transport,
    method: str,
    path: str,
    *,
    parse: Callable[[Any], Any],
    params: dict | None = None,
    json: dict | None = None,
    idempotent: bool = True,
) -> Any:
    """`transport.call` whose 404 and 409 say what they mean for events and bots."""
    try:
        return transport.call(
            method, path, params=params, json=json, idempotent=idempotent, parse=parse
        )
    except errors.MeetingBaasError as exc:
        retyped = errors.about_events(exc)
        if retyped is exc:
            raise
        raise retyped from exc
