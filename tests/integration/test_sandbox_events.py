"""The sandbox's calendars: what each connection holds, and the webhooks its changes send.

A capture server stands in for the portal to see exactly what the sandbox sent; each delivery
is then handed to the portal's own receiver, whose signature check must accept it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from django.conf import settings

from calendars.meetingbaas.transport import Transport
from calendars.meetingbaas.types import BotConfig, OAuthGrant, Platform
from calendars.meetingbaas.v1 import V1Client
from calendars.meetingbaas.v2 import V2Client
from tests.support.waiting import wait_until

GRANT = OAuthGrant(Platform.GOOGLE, "cid", "cs", "rt:erin@example.com")
# What the spec's CalendarWebhook* schemas require of each event webhook's data.
V2_REQUIRED = {
    "calendar.events_synced": {"calendar_id", "events"},
    "calendar.event_created": {
        "calendar_id",
        "event_type",
        "series_id",
        "series_bot_scheduled",
        "instances",
    },
    "calendar.event_updated": {
        "calendar_id",
        "event_type",
        "series_id",
        "series_bot_scheduled",
        "is_exception",
        "affected_instances",
    },
    "calendar.event_cancelled": {"calendar_id", "event_type", "series_id", "cancelled_instances"},
}
INSTANCE_FIELDS = {
    "event_id",
    "start",
    "end",
    "title",
    "status",
    "is_all_day",
    "is_exception",
    "bot_scheduled",
    "meeting_url",
    "meeting_platform",
}


class Captured(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.server.deliveries.append((headers, body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def inbox(sandbox) -> Iterator[list[tuple[dict, bytes]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Captured)
    server.deliveries = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sandbox.control(
        "POST",
        "config",
        {
            "webhook_url": f"http://127.0.0.1:{server.server_address[1]}/",
            "webhook_secret": settings.MEETINGBAAS_WEBHOOK_SECRET[0],
        },
    )
    yield server.deliveries
    server.shutdown()
    server.server_close()


def delivered(inbox: list, event: str, about: str | None = None) -> tuple[dict, bytes]:
    """The first `event` delivery (`about` one event id alone, for v1's sync_events: the first
    sync's own delivery, which names every event, may arrive after the inbox was cleared)."""

    def wanted(body: bytes) -> bool:
        payload = json.loads(body)
        if payload["event"] != event:
            return False
        return about is None or payload["data"].get("affected_event_uuids") == [about]

    assert wait_until(lambda: any(wanted(b) for _, b in inbox))
    return next((h, b) for h, b in inbox if wanted(b))


def accepted_by_the_portal(client, headers: dict, body: bytes) -> bool:
    meta = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
    for plumbing in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH", "HTTP_HOST"):
        meta.pop(plumbing, None)
    answer = client.post("/webhooks/meetingbaas/", body, content_type="application/json", **meta)
    return answer.status_code == 200 and answer.json()["received"] is True


def connect(sandbox, version: str):
    sandbox.state.sync_delay = 0
    api = (V2Client if version == "v2" else V1Client)(Transport(sandbox.transport_config()))
    remote = api.create_connection(GRANT, "erin@example.com").remote_id
    api.get_connection(remote)  # finishes the first sync
    return remote


@pytest.mark.clock
def test_each_calendar_has_the_meetings_a_newcomer_needs_to_see(sandbox):
    remote = connect(sandbox, "v2")

    events = sandbox.control("GET", f"events?connection_id={remote}")

    moment = datetime.now(UTC)
    starts = [datetime.fromisoformat(e["start"]) for e in events]
    assert min(starts) < moment - timedelta(days=13) and max(starts) > moment + timedelta(days=28)
    # whatever the weekday and the hour: a window from a day ago holds a past meeting
    assert any(moment - timedelta(days=1) <= start < moment for start in starts)
    assert any(e["is_recurring"] for e in events)
    assert any(e["meeting_url"] is None for e in events)
    assert [e["title"] for e in events if e["status"] == "cancelled"] == ["Team offsite"]
    # made up from the connection: the same again for the same connection
    sandbox.state.events.clear()
    assert sandbox.control("GET", f"events?connection_id={remote}") == events


@pytest.mark.clock
def test_the_first_sync_sends_every_event_grouped_by_series(sandbox, inbox, client, db):
    remote = connect(sandbox, "v2")

    headers, body = delivered(inbox, "calendar.events_synced")

    data = json.loads(body)["data"]
    assert set(data) == V2_REQUIRED["calendar.events_synced"]
    assert data["calendar_id"] == str(remote)
    instances = [i for series in data["events"] for i in series["instances"]]
    assert len(instances) == len(sandbox.control("GET", f"events?connection_id={remote}"))
    assert all(set(i) == INSTANCE_FIELDS for i in instances)
    standup = next(s for s in data["events"] if s["instances"][0]["title"] == "Team standup")
    assert standup["event_type"] == "recurring" and len(standup["instances"]) > 5
    assert accepted_by_the_portal(client, headers, body)


def test_adding_moving_and_cancelling_a_meeting_sends_v2_event_webhooks(sandbox, inbox, client, db):
    remote = connect(sandbox, "v2")
    start = (datetime.now(UTC) + timedelta(hours=3)).replace(microsecond=0)

    added = sandbox.control(
        "POST",
        "events",
        {
            "connection_id": str(remote),
            "title": "Board review",
            "start": start.isoformat(),
            "meeting_url": "https://us02web.zoom.us/j/81234567890",
        },
    )
    sandbox.control(
        "POST", f"events/{added['event_id']}", {"start": (start + timedelta(hours=1)).isoformat()}
    )
    sandbox.control("POST", f"events/{added['event_id']}", {"cancelled": True})

    for event, key in (
        ("calendar.event_created", "instances"),
        ("calendar.event_updated", "affected_instances"),
        ("calendar.event_cancelled", "cancelled_instances"),
    ):
        headers, body = delivered(inbox, event)
        data = json.loads(body)["data"]
        assert set(data) == V2_REQUIRED[event], event
        assert [i["event_id"] for i in data[key]] == [added["event_id"]]
        assert data["event_type"] == "one_off"
        assert accepted_by_the_portal(client, headers, body), event
    moved = json.loads(delivered(inbox, "calendar.event_updated")[1])["data"]
    instance = moved["affected_instances"][0]
    assert datetime.fromisoformat(instance["start"]) == start + timedelta(hours=1)
    assert datetime.fromisoformat(instance["end"]) == start + timedelta(hours=2)
    assert instance["meeting_platform"] == "zoom" and instance["title"] == "Board review"
    cancelled = json.loads(delivered(inbox, "calendar.event_cancelled")[1])["data"]
    assert cancelled["cancelled_instances"][0]["status"] == "cancelled"


@pytest.mark.clock
def test_a_v1_change_sends_sync_events_with_the_event_id(sandbox, inbox, client, db, settings):
    settings.MEETINGBAAS_WEBHOOKS_V1 = True
    remote = connect(sandbox, "v1")
    inbox.clear()

    added = sandbox.control("POST", "events", {"connection_id": str(remote), "title": "Quick chat"})

    headers, body = delivered(inbox, "calendar.sync_events", about=added["event_id"])
    data = json.loads(body)["data"]
    assert data["calendar_id"] == str(remote)
    assert headers["x-meeting-baas-api-key"] == "test-key"
    assert accepted_by_the_portal(client, headers, body)


@pytest.mark.clock
def test_a_scheduled_bot_shows_in_the_next_webhook(sandbox, inbox):
    remote = connect(sandbox, "v2")
    api = V2Client(Transport(sandbox.transport_config()))
    event = next(
        e
        for e in sandbox.control("GET", f"events?connection_id={remote}")
        if e["title"] == "Customer call" and e["start"] > datetime.now(UTC).isoformat()
    )
    api.schedule_bot(remote, config=BotConfig("Bot"), event_id=event["event_id"])

    sandbox.control("POST", f"events/{event['event_id']}", {"title": "Customer call (moved)"})

    data = json.loads(delivered(inbox, "calendar.event_updated")[1])["data"]
    assert data["affected_instances"][0]["bot_scheduled"] is True
    assert data["series_bot_scheduled"] is True
    shown = sandbox.control("GET", f"events?connection_id={remote}")
    assert next(e for e in shown if e["event_id"] == event["event_id"])["bot"]["bot_name"] == "Bot"


def test_bad_control_requests_are_refused(sandbox):
    remote = connect(sandbox, "v2")
    for path, body in (
        ("events", {"connection_id": "nope"}),
        ("events", {"connection_id": str(remote), "start": "tomorrow"}),
        ("events", {"connection_id": str(remote), "start": "2030-01-01T10:00:00"}),
        ("events/00000000-0000-4000-8000-000000000000", {"cancelled": True}),
    ):
        with pytest.raises(requests.HTTPError, match=r"^40[04] "):
            sandbox.control("POST", path, body)


def test_the_latency_knob_slows_event_calls(sandbox):
    remote = connect(sandbox, "v2")
    api = V2Client(Transport(sandbox.transport_config()))
    sandbox.control("POST", "config", {"latency": 0.05})
    try:
        started = time.monotonic()
        api.list_events(remote, start=datetime.now(UTC), end=datetime.now(UTC) + timedelta(days=1))
        assert time.monotonic() - started >= 0.05
    finally:
        sandbox.control("POST", "config", {"latency": 0})
