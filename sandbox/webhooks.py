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

from sandbox.state import SandboxConnection, SandboxState, iso, now

logger = logging.getLogger(__name__)

# "bad_signature": signed with another secret (v2) or another API key (v1);
# "stale": timestamped ten minutes ago; "duplicate": the same delivery sent twice.
VARIANTS = {None, "bad_signature", "stale", "duplicate"}


def event_names(connection: SandboxConnection, change: str) -> str | None:
    """The webhook a change sends: v1 only ever tells about syncs."""
    if connection.api_version == "v1":
        return "calendar.sync_events" if change == "synced" else None
    return "calendar.events_synced" if change == "synced" else change


def payload(
    connection: SandboxConnection, event: str, *, shift: float = 0, **overrides: object
) -> dict:
    """The body of `event` for `connection`, its timestamps moved by `shift` seconds."""
    moment = lambda value: iso(value + timedelta(seconds=shift)) if value else None  # noqa: E731
    base = {"calendar_id": str(connection.id)}
    instance = {
        "event_id": str(uuid.uuid5(connection.id, "weekly")),
        "start": iso(now() + timedelta(days=1)),
        "end": iso(now() + timedelta(days=1, hours=1)),
        "title": "Weekly sync",
        "status": "confirmed",
        "is_all_day": False,
        "is_exception": False,
        "bot_scheduled": False,
        "meeting_url": "https://meet.google.com/abc-defg-hij",
        "meeting_platform": "meet",
    }
    series = {"event_type": "one_off", "series_id": None, "series_bot_scheduled": False}
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
        "calendar.events_synced": {"events": [{**series, "instances": [instance]}]},
        "calendar.event_created": {**series, "instances": [instance]},
        "calendar.event_updated": {
            **series,
            "is_exception": False,
            "affected_instances": [instance],
        },
        "calendar.event_cancelled": {**series, "cancelled_instances": [instance]},
        "calendar.sync_events": {
            "last_updated_ts": moment(connection.synced_at or now()),
            "affected_event_uuids": [instance["event_id"]],
        },
    }.get(event, {})
    return {"event": event, "data": {**base, **data, **overrides}}


class WebhookSender:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def notify(self, connection: SandboxConnection, change: str) -> None:
        """Send the webhook for a change in the background, when a URL is configured."""
        event = event_names(connection, change)
        if not self.state.webhook_url or event is None:
            return
        body = payload(connection, event)
        threading.Thread(
            target=self._deliver, args=(connection.api_version, body), daemon=True
        ).start()

    def send(
        self,
        connection: SandboxConnection,
        event: str,
        *,
        variant: str | None = None,
        shift: float = 0,
        overrides: dict | None = None,
    ) -> tuple[dict, list[int]]:
        """Send one webhook now and return its body and the receiver's status codes."""
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {sorted(v for v in VARIANTS if v)}")
        body = payload(connection, event, shift=shift, **(overrides or {}))
        return body, self._deliver(connection.api_version, body, variant=variant)

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
