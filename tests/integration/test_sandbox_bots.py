"""The sandbox's meeting bots: their fate by default and by the control API, the v2 bot webhooks
they send at the meeting's times, and both versions' bots lists as the specs describe them."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from standardwebhooks.webhooks import Webhook

from sandbox.bots import default_plan
from tests.support.meetings import active_integration

pytestmark = pytest.mark.clock
SECRET = "whsec_" + "c2FuZGJveC1ib3RzLXRlc3Qtc2VjcmV0"


@pytest.fixture
def connect(sandbox, make_integration):
    """The sandbox id of a new calendar connection of `version`, its first sync done."""

    def connect(version: str) -> str:
        return str(active_integration(make_integration, sandbox, version).remote_id)

    return connect


def api(sandbox, method: str, path: str, **options) -> requests.Response:
    headers = {"x-meeting-baas-api-key": "test-key"}
    response = requests.request(method, sandbox.url + path, headers=headers, timeout=5, **options)
    assert response.status_code < 300, response.text
    return response


def meeting(sandbox, calendar_id: str, version: str, *, extra: dict, in_minutes: float = 60):
    """A meeting added to the calendar, given its bot; returns its event id."""
    start = datetime.now(UTC) + timedelta(minutes=in_minutes)
    event = sandbox.control(
        "POST",
        "events",
        {
            "connection_id": calendar_id,
            "start": start.isoformat(),
            "end": (start + timedelta(minutes=30)).isoformat(),
            "meeting_url": "https://meet.google.com/abc-defg-hij",
        },
    )
    bot = {"bot_name": "Notes", "extra": extra}
    if version == "v2":
        target = {"series_id": event["series_id"], "all_occurrences": False}
        target["event_id"] = event["event_id"]
        api(sandbox, "POST", f"/v2/calendars/{calendar_id}/bots", json=bot | target)
    else:
        api(sandbox, "POST", f"/calendar_events/{event['event_id']}/bot", json=bot)
    return event["event_id"]


def test_most_bots_complete_and_a_few_fail_decided_by_their_event():
    plans = [default_plan(uuid.UUID(int=n * 7919 + 13)) for n in range(1000)]
    failing = [plan for plan in plans if plan != "completed"]
    assert 50 <= len(failing) <= 150
    assert set(failing) == {"BOT_NOT_ACCEPTED", "MEETING_NOT_FOUND", "WAITING_ROOM_TIMEOUT"}
    assert plans == [default_plan(uuid.UUID(int=n * 7919 + 13)) for n in range(1000)]


class Catcher(BaseHTTPRequestHandler):
    caught: list[tuple[dict, dict]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.caught.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def catcher(sandbox):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Catcher)
    server.caught = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    sandbox.state.webhook_secret = SECRET
    sandbox.state.webhook_url = f"http://127.0.0.1:{server.server_address[1]}/"
    yield server
    sandbox.state.webhook_url = None
    sandbox.server.httpd.sender.drain()
    server.shutdown()
    server.server_close()


def test_a_bot_plays_its_story_at_the_meetings_times_sending_signed_webhooks(
    sandbox, connect, catcher
):
    calendar_id = connect("v2")
    event_id = meeting(sandbox, calendar_id, "v2", extra={"portal_meeting_id": "7"})
    sandbox.control("POST", f"bots/{event_id}", {"outcome": "completed"})
    catcher.caught.clear()  # the calendar's own webhooks
    now = datetime.now(UTC)
    # Its meeting began 40 s ago and ends in a second: set on the bot itself, as a move this
    # close to the start is one a bot no longer follows (see the next test).
    bot = sandbox.state.bot_of(uuid.UUID(event_id))
    bot.starts_at, bot.ends_at = now - timedelta(seconds=40), now + timedelta(seconds=1)

    deadline = datetime.now(UTC) + timedelta(seconds=5)
    while datetime.now(UTC) < deadline and sandbox.state.bot_of(uuid.UUID(event_id)).steps:
        threading.Event().wait(0.05)
    sandbox.server.httpd.sender.drain()

    bodies = []
    for headers, body in catcher.caught:
        svix = {k.lower(): v for k, v in headers.items() if k.lower().startswith("svix-")}
        Webhook(SECRET).verify(body, {k.replace("svix-", "webhook-"): v for k, v in svix.items()})
        bodies.append(json.loads(body))
    bot_news = [b for b in bodies if b["event"].startswith("bot.")]
    assert [b["event"] for b in bot_news] == [
        "bot.status_change",
        "bot.status_change",
        "bot.completed",
    ]
    assert [b["data"]["status"]["code"] for b in bot_news[:2]] == [
        "joining_call",
        "in_call_recording",
    ]
    completed = bot_news[2]
    assert completed["extra"] == {"portal_meeting_id": "7"}
    assert completed["data"]["event_id"] == event_id
    assert completed["data"]["duration_seconds"] >= 0 and completed["data"]["video"] is None


def test_a_silent_bot_sends_no_webhook(sandbox, connect, catcher):
    calendar_id = connect("v2")
    event_id = meeting(sandbox, calendar_id, "v2", extra={})
    sandbox.server.httpd.sender.drain()  # the event's own webhook, sent by then
    catcher.caught.clear()

    played = sandbox.control("POST", f"bots/{event_id}", {"silent": True, "now": True})

    sandbox.server.httpd.sender.drain()
    assert played["status"] in ("completed", "failed") and played["webhooks"]
    assert catcher.caught == []


def test_the_v2_bots_list_filters_and_pages_as_the_spec_says(sandbox, connect):
    calendar_id = connect("v2")
    events = [meeting(sandbox, calendar_id, "v2", extra={"n": str(n)}) for n in range(3)]
    sandbox.control("POST", f"bots/{events[0]}", {"outcome": "completed", "now": True})
    sandbox.control("POST", f"bots/{events[1]}", {"outcome": "failed", "now": True})
    hour_ago = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")

    ended = api(sandbox, "GET", "/v2/bots", params={"ended_after": hour_ago}).json()
    failed = api(sandbox, "GET", "/v2/bots", params={"status": "failed"}).json()
    future = api(sandbox, "GET", "/v2/bots", params={"created_before": hour_ago}).json()
    first = api(sandbox, "GET", "/v2/bots", params={"limit": 2, "created_after": hour_ago}).json()
    rest = api(sandbox, "GET", "/v2/bots", params={"limit": 2, "cursor": first["cursor"]}).json()

    assert {b["extra"]["n"] for b in ended["data"]} == {"0", "1"}
    (one,) = failed["data"]
    assert (one["extra"], one["error_code"]) == ({"n": "1"}, "BOT_NOT_ACCEPTED")
    assert future["data"] == []
    assert [b["extra"]["n"] for b in first["data"] + rest["data"]] == ["0", "1", "2"]
    assert rest["cursor"] is None and rest["prev_cursor"] is not None
    assert set(one) == {
        "bot_id",
        "bot_name",
        "meeting_url",
        "meeting_platform",
        "extra",
        "duration",
        "created_at",
        "ended_at",
        "joined_at",
        "exited_at",
        "status",
        "error_code",
        "error_message",
        "tokens",
    }


def test_the_v1_bots_list_filters_by_extra_and_pages(sandbox, connect):
    calendar_id = connect("v1")
    events = [meeting(sandbox, calendar_id, "v1", extra={"n": str(n)}) for n in range(3)]
    sandbox.control("POST", f"bots/{events[2]}", {"outcome": "failed", "now": True})
    hour_ago = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")

    chosen = api(sandbox, "GET", "/bots/bots_with_metadata", params={"filter_by_extra": "n:2"})
    first = api(sandbox, "GET", "/bots/bots_with_metadata", params={"limit": 2}).json()
    rest = api(
        sandbox, "GET", "/bots/bots_with_metadata", params={"cursor": first["next_cursor"]}
    ).json()
    ended = api(sandbox, "GET", "/bots/bots_with_metadata", params={"ended_after": hour_ago})

    (bot,) = chosen.json()["bots"]
    assert bot["errors"].startswith("BOT_NOT_ACCEPTED") and bot["ended_at"] is not None
    assert [b["extra"]["n"] for b in first["bots"] + rest["bots"]] == ["0", "1", "2"]
    assert rest["next_cursor"] is None
    assert [b["extra"]["n"] for b in ended.json()["bots"]] == ["2"]


def test_a_bot_removed_before_its_meeting_is_forgotten(sandbox, connect):
    calendar_id = connect("v1")
    event_id = meeting(sandbox, calendar_id, "v1", extra={})

    api(sandbox, "DELETE", f"/calendar_events/{event_id}/bot")

    assert sandbox.control("GET", "bots") == []


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_a_bot_follows_its_meeting_but_not_within_four_minutes_of_its_start(
    sandbox, connect, version
):
    calendar_id = connect(version)
    event_id = meeting(sandbox, calendar_id, version, extra={}, in_minutes=60)
    soon_id = meeting(sandbox, calendar_id, version, extra={}, in_minutes=3)
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    url = "https://us02web.zoom.us/j/5551234567"

    for moved in (event_id, soon_id):
        sandbox.control("POST", f"events/{moved}", {"start": later.isoformat(), "meeting_url": url})

    bots = {b["event_id"]: b for b in sandbox.control("GET", "bots")}
    assert (bots[event_id]["join_at"], bots[event_id]["meeting_url"]) == (
        later.isoformat().replace("+00:00", ".000Z"),
        url,
    )
    # Three minutes before its start the bot is on its way: it keeps its time and URL.
    assert bots[soon_id]["meeting_url"] == "https://meet.google.com/abc-defg-hij"
    listed = api(sandbox, "GET", "/v2/bots" if version == "v2" else "/bots/bots_with_metadata")
    items = listed.json()["data" if version == "v2" else "bots"]
    assert {item["meeting_url"] for item in items} == {url, "https://meet.google.com/abc-defg-hij"}


def test_a_change_can_lose_the_bot(sandbox, connect):
    calendar_id = connect("v2")
    event_id = meeting(sandbox, calendar_id, "v2", extra={})

    changed = sandbox.control("POST", f"events/{event_id}", {"title": "Renamed", "keep_bot": False})

    assert changed["bot"] is None and sandbox.state.bot_of(uuid.UUID(event_id)) is None
