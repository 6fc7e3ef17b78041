"""Webhooks from the sandbox, as Meeting BaaS sends them: Svix-signed for v2, API key for v1.

Changes send webhooks by themselves (in a background thread) when a webhook URL is
configured; tests and people can also send one on request, well or badly formed.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
import uuid
from datetime import timedelta

from standardwebhooks.webhooks import Webhook

from sandbox.events import SandboxEvent
from sandbox.state import SandboxConnection, SandboxState, iso, now

logger = logging.getLogger(__name__)

# "bad_signature": signed with another secret (v2) or another API key (v1);
# "stale": timestamped ten minutes ago; "duplicate": the same delivery sent twice.
VARIANTS = {None, "bad_signature", "stale", "duplicate"}


def event_names(connection: SandboxConnection, change: str) -> str | None:
    """The webhook a change sends: v1 only ever tells that events were synced."""
    if connection.api_version == "v1":
        syncs = change == "synced" or change.startswith("calendar.event_")
        return "calendar.sync_events" if syncs else None
    return "calendar.events_synced" if change == "synced" else change


def instance(event: SandboxEvent, *, shift: float = 0) -> dict:
    """An event instance as the v2 webhooks carry it (CalendarWebhook* in the spec)."""
    return {
        "event_id": str(event.id),
        "start": iso(event.start + timedelta(seconds=shift)),
        "end": iso(event.end + timedelta(seconds=shift)),
        "title": event.title,
        "status": event.status,
        "is_all_day": False,
        "is_exception": event.is_exception,
        "bot_scheduled": event.bot is not None,
        "meeting_url": event.meeting_url,
        "meeting_platform": event.meeting_platform,
    }


def _series(events: list[SandboxEvent], shift: float) -> list[dict]:
    """`events` grouped by series, as `calendar.events_synced` lists them."""
    grouped: dict[uuid.UUID, list[SandboxEvent]] = {}
    for event in events:
        grouped.setdefault(event.series_id, []).append(event)
    return [
        {**_series_fields(members), "instances": [instance(e, shift=shift) for e in members]}
        for members in grouped.values()
    ]


def _series_fields(members: list[SandboxEvent]) -> dict:
    return {
        "event_type": "recurring" if members[0].is_recurring else "one_off",
        "series_id": str(members[0].series_id),
        "series_bot_scheduled": all(e.bot is not None for e in members),
    }


def payload(
    connection: SandboxConnection,
    event: str,
    *,
    events: list[SandboxEvent],
    shift: float = 0,
    **overrides: object,
) -> dict:
    """The body of `event` about `events` of `connection`, its times moved by `shift` seconds."""
    moment = lambda value: iso(value + timedelta(seconds=shift)) if value else None  # noqa: E731
    base = {"calendar_id": str(connection.id)}
    instances = [instance(e, shift=shift) for e in events]
    series = _series_fields(events) if events else {}
    connection_fields = {
        "calendar_platform": connection.platform,
        "account_email": connection.account_email,
        "status": connection.status,
        "created_at": moment(connection.created_at),
    }
    data = {
        "calendar.connection_created": connection_fields,
        "calendar.connection_updated": {
            **connection_fields,
            "updated_at": moment(connection.updated_at),
        },
        "calendar.connection_deleted": {
            "calendar_platform": connection.platform,
            "deleted_at": moment(now()),
        },
        "calendar.events_synced": {"events": _series(events, shift)},
        "calendar.event_created": {**series, "instances": instances},
        "calendar.event_updated": {
            **series,
            "is_exception": any(e.is_exception for e in events),
            "affected_instances": instances,
        },
        "calendar.event_cancelled": {
            **{k: v for k, v in series.items() if k != "series_bot_scheduled"},
            "cancelled_instances": instances,
        },
        "calendar.sync_events": {
            "last_updated_ts": moment(
                max([connection.synced_at or now(), *(e.updated_at for e in events)])
            ),
            "affected_event_uuids": [str(e.id) for e in events],
        },
    }.get(event, {})
    return {"event": event, "data": {**base, **data, **overrides}}


class WebhookSender:
    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self._in_flight: set[threading.Thread] = set()
        self._lock = threading.Lock()

    def notify(
        self, connection: SandboxConnection, change: str, events: list[SandboxEvent]
    ) -> None:
        """Send the webhook for a change in the background, when a URL is configured.

        A sync tells about every event of the calendar; an event change about that event.
        """
        event = event_names(connection, change)
        if not self.state.webhook_url or event is None:
            return
        if change == "synced":
            events = self.state.events_of(connection)
        body = payload(connection, event, events=events)
        self._start(
            threading.Thread(
                target=self._deliver_in_background,
                args=(connection.api_version, body),
                daemon=True,
            )
        )

    def _start(self, thread: threading.Thread) -> None:
        # Started under the lock: `drain` never finds a thread it cannot join yet.
        with self._lock:
            self._in_flight.add(thread)
            thread.start()

    def _deliver_in_background(self, api_version: str, body: dict) -> None:
        try:
            self._deliver(api_version, body)
        finally:
            with self._lock:
                self._in_flight.discard(threading.current_thread())

    def drain(self, timeout: float = 15.0) -> None:
        """Wait for the background deliveries under way, so none lands after its test ended."""
        with self._lock:
            threads = list(self._in_flight)
        for thread in threads:
            thread.join(timeout)

    def send_bot_news(self, bodies: list[dict], *, background: bool = False) -> None:
        """Send a bot's v2 webhooks in their order (in the background: one thread for all, so
        they keep it), when a URL is configured."""
        if not self.state.webhook_url or not bodies:
            return
        if not background:
            for body in bodies:
                self._deliver("v2", body)
            return
        self._start(threading.Thread(target=self._deliver_all, args=(bodies,), daemon=True))

    def _deliver_all(self, bodies: list[dict]) -> None:
        try:
            for body in bodies:
                self._deliver("v2", body)
        finally:
            with self._lock:
                self._in_flight.discard(threading.current_thread())

    def send(
        self,
        connection: SandboxConnection,
        event: str,
        *,
        event_id: str | None = None,
        variant: str | None = None,
        shift: float = 0,
        overrides: dict | None = None,
    ) -> tuple[dict, list[int]]:
        """Send one webhook now and return its body and the receiver's status codes.

        An event webhook is about `event_id`, or the calendar's next event; a sync about all.
        """
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {sorted(v for v in VARIANTS if v)}")
        body = payload(
            connection,
            event,
            events=self._about(connection, event, event_id),
            shift=shift,
            **(overrides or {}),
        )
        return body, self._deliver(connection.api_version, body, variant=variant)

    def _about(
        self, connection: SandboxConnection, event: str, event_id: str | None
    ) -> list[SandboxEvent]:
        if event_id is not None:
            return [self.state.event(connection, event_id)]
        events = self.state.events_of(connection)
        if event in ("calendar.events_synced", "calendar.sync_events"):
            return events
        upcoming = [e for e in events if e.start > now()]
        return upcoming[:1] or events[-1:]

    def _deliver(self, api_version: str, body: dict, *, variant: str | None = None) -> list[int]:
        data = json.dumps(body)
        headers = {"Content-Type": "application/json"}
        if api_version == "v1":
            headers["x-meeting-baas-api-key"] = (
                "wrong-key" if variant == "bad_signature" else self.state.api_key
            )
        else:
            headers |= self._svix_headers(data, variant)
        times = 2 if variant == "duplicate" else 1
        return [self._post(data.encode(), headers) for _ in range(times)]

    def _svix_headers(self, data: str, variant: str | None) -> dict[str, str]:
        secret = self.state.webhook_secret
        if variant == "bad_signature":
            secret = "whsec_" + "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA=="
        sent_at = now() - timedelta(minutes=10 if variant == "stale" else 0)
        msg_id = f"msg_{uuid.uuid4().hex}"
        return {
            "svix-id": msg_id,
            "svix-timestamp": str(int(sent_at.timestamp())),
            "svix-signature": Webhook(secret).sign(msg_id, sent_at, data),
        }

    def _post(self, data: bytes, headers: dict[str, str]) -> int:
        url = self.state.webhook_url
        if url is None:  # switched off while this delivery was on its way
            return 0
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook_url must be http(s), not {url!r}")
        request = urllib.request.Request(url, data=data, headers=headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except (urllib.error.URLError, TimeoutError) as exc:
            logger.warning("sandbox webhook to %s failed: %s", self.state.webhook_url, exc)
            return 0
