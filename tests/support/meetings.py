"""Meetings in the live sandbox: an active integration of either API version, events added to
its calendar, and the event webhooks the sandbox would send, delivered to the portal."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.test import TestCase

from calendars.actions.refresh import refresh_integration
from calendars.meetings.sync import WindowSync, sync_window
from calendars.models import Integration
from sandbox.webhooks import event_names, payload
from tests.support.webhook_signing import post, post_v2


def active_integration(make_integration, sandbox, version: str) -> Integration:
    """An integration of `version` whose first sync is done, so its calendar lists events."""
    settings.MEETINGBAAS_API_VERSION = version
    settings.MEETINGBAAS_WEBHOOKS_V1 = True
    sandbox.state.sync_delay = 0
    integration = refresh_integration(make_integration().pk)
    assert integration.status == "active"
    return integration


def add_event(
    sandbox,
    integration: Integration,
    *,
    title: str = "Customer call",
    in_hours: float = 2,
    meeting_url: str | None = "https://meet.google.com/abc-defg-hij",
    **fields: object,
) -> str:
    """A one-off meeting added to the integration's calendar; returns its event id. `fields`
    go to the control API as they are (attendees, organizer_email, status, recurring)."""
    start = datetime.now(UTC) + timedelta(hours=in_hours)
    added = sandbox.control(
        "POST",
        "events",
        {
            "connection_id": str(integration.remote_id),
            "title": title,
            "start": start.isoformat(),
            "end": (start + timedelta(minutes=30)).isoformat(),
            "meeting_url": meeting_url,
            **fields,
        },
    )
    return added["event_id"]


def webhook(sandbox, integration: Integration, change: str, event_ids: list[str]) -> dict:
    """The body the sandbox sends for `change` (a v2 event name) about the events, now."""
    connection = sandbox.connection(integration.remote_id)
    events = [sandbox.state.event(connection, event_id) for event_id in event_ids]
    return payload(connection, event_names(connection, change), events=events)


def deliver(client, integration: Integration, body: dict, *, age: timedelta = timedelta(0)):
    """Post `body` as Meeting BaaS would (signed by Svix `age` ago, or with v1's API key)."""
    if integration.api_version == "v1":
        return post(client, json.dumps(body), HTTP_X_MEETING_BAAS_API_KEY="test-key")
    return post_v2(client, body, age=age)


def sync(integration: Integration) -> WindowSync | None:
    """The periodic window sync of one integration, with the tasks it queues run as it commits."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return sync_window(integration.pk)


def bot_requests(sandbox, integration, event_id: str | None = None) -> list[dict]:
    """The bot scheduling requests sent for the integration (for one event, if named)."""
    if integration.api_version == "v1":
        sent = [
            r
            for r in sandbox.requests_to("POST", "/calendar_events/")
            if r["path"].endswith("/bot")
        ]
        return [r for r in sent if event_id is None or event_id in r["path"]]
    sent = sandbox.requests_to("POST", f"/v2/calendars/{integration.remote_id}/bots")
    return [r for r in sent if event_id is None or r["json"].get("event_id") == event_id]
