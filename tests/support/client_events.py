"""What the v1 and v2 client tests share about events: a window to list, a calendar whose
first sync is done, and an upcoming event found by its title."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from calendars.meetingbaas import Client
from calendars.meetingbaas.types import OAuthGrant, RemoteEvent


def window() -> dict:
    """From a day ago (past events included) to two weeks ahead."""
    moment = datetime.now(UTC)
    return {"start": moment - timedelta(days=1), "end": moment + timedelta(days=14)}


def synced_calendar(client: Client, sandbox, grant: OAuthGrant, raw_calendar_id: str) -> UUID:
    """A new connection whose events list at once (the sandbox syncs it without delay)."""
    sandbox.state.sync_delay = 0
    return client.create_connection(grant, raw_calendar_id).remote_id


def upcoming(client: Client, calendar: UUID, title: str) -> RemoteEvent:
    """The first event called `title` that starts far enough ahead to take a bot."""
    soon = datetime.now(UTC) + timedelta(minutes=10)
    return next(
        e for e in client.iter_events(calendar, **window()) if e.title == title and e.start > soon
    )
