"""What the sandbox remembers: connections, the request log and its knobs. Thread-safe."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox.accounts import FakeAccount, SandboxError
from sandbox.bots import SandboxBot, follow, joined_within, made, refuse_past_the_cap
from sandbox.events import SandboxEvent, fake_events, new_event
from sandbox.oauth import OAuthMemory

# The request log is served over HTTP, so it keeps no secret, by the portal's own rule for its
# logs (calendars/meetingbaas/transport.py, `redact`; the sandbox imports nothing from the
# portal): a field, header or query parameter whose name holds one of these is redacted.
SECRET_NAME_PARTS = ("secret", "token", "password", "api_key", "apikey", "authorization", "cookie")
# OAuth's authorization code and PKCE verifier, whole names: "code_challenge" is no secret.
SECRET_NAMES = ("code", "code_verifier")
REDACTED = "[redacted]"
EVENT_PAGE_LIMIT = 250  # the largest page of events the v2 spec allows
# The most calendars one control request puts a shared meeting into.
MAX_SHARED = 50


def redacted(value: Any) -> Any:
    """`value` with every secret-named field replaced by a placeholder, at any depth."""
    if isinstance(value, Mapping):
        return {k: REDACTED if _names_a_secret(str(k)) else redacted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redacted(v) for v in value]
    return value


def _names_a_secret(name: str) -> bool:
    # Headers spell with hyphens what bodies spell with underscores (x-meeting-baas-api-key).
    name = name.lower().replace("-", "_")
    return name in SECRET_NAMES or any(part in name for part in SECRET_NAME_PARTS)


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class SandboxConnection:
    id: uuid.UUID
    api_version: str
    platform: str
    account_email: str
    raw_calendar_id: str
    calendar_name: str
    created_at: datetime
    sync_due_at: datetime
    status: str = "active"
    status_message: str | None = None
    sync_status: str | None = None
    sync_error: str | None = None
    synced_at: datetime | None = None
    updated_at: datetime | None = None
    subscription_expires_at: datetime | None = None
    resyncs: int = 0  # how often a sync was asked for: tests count effects, not requests
    # The OAuth credentials Meeting BaaS holds for the connection, as last sent (create or
    # update): tests check what was pushed here, since the request log redacts it. No endpoint
    # serves them, and repr leaves the secrets out.
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    refresh_token: str = field(default="", repr=False)

    def settle(self, moment: datetime) -> bool:
        """The first sync finishes `sync_delay` seconds after creation; True when it just did."""
        if self.synced_at is None and self.status == "active" and moment >= self.sync_due_at:
            self.synced_at = self.sync_due_at
            self.sync_status = "success"
            self.updated_at = self.sync_due_at
            return True
        return False


@dataclass
class Fault:
    """Answer the next `count` requests matching `method` and `path` (a regex) badly; a
    `count` of None: every one until the faults are cleared (DELETE /_sandbox/faults).

    kind: "status" (answer `status` without acting, with `retry_after` if set), "hang" (wait
    `delay` s without acting, then answer `status`: a client with a shorter timeout sees none
    and nothing was done), "slow"
    (act, then answer after `delay` s), "reset" (act, then close without answering),
    "malformed" (200 with a body that is not JSON), "incomplete" (200, fields missing),
    "patched" (act, then answer with `patch` merged into the answer's data: odd values;
    into an OAuth answer itself, e.g. a token's "scope").
    """

    method: str
    path: str
    kind: str
    count: int | None = 1
    status: int = 503
    retry_after: int | None = None
    delay: float = 0.0
    patch: dict = field(default_factory=dict)

    def matches(self, method: str, path: str) -> bool:
        left = self.count is None or self.count > 0
        return left and self.method in (method, "*") and bool(re.fullmatch(self.path, path))


@dataclass
class SandboxState:
    api_key: str = "sandbox-key"
    sync_delay: float = 2.0
    connection_limit: int = 10_000
    # The team's daily bot cap (0: none): a bot joining when this many joined in the last 24
    # hours fails with DAILY_BOT_CAP_REACHED.
    bots_per_day: int = 0
    connections: dict[uuid.UUID, SandboxConnection] = field(default_factory=dict)
    requests: list[dict] = field(default_factory=list)  # the last 2,000
    request_count: int = 0
    faults: list[Fault] = field(default_factory=list)
    write_rate: float = 0.0  # POST/PATCH/DELETE per rolling second; 0: unlimited
    latency: float = 0.0  # seconds added to every API answer (benchmarks)
    write_times: list[float] = field(default_factory=list)
    throttled: int = 0
    webhook_url: str | None = None
    webhook_secret: str = ""
    # The largest page of events served (v1 pages at 100 at most, v2 at the `limit` asked):
    # tests lower it to see cursors followed.
    event_page_limit: int = EVENT_PAGE_LIMIT
    # Each connection's events by id, made on first use (see sandbox/events.py).
    events: dict[uuid.UUID, dict[uuid.UUID, SandboxEvent]] = field(default_factory=dict)
    # Every meeting bot ever scheduled, in the order they were made (sandbox/bots.py).
    bots: list[SandboxBot] = field(default_factory=list)
    # Called with (connection, event name, events changed) after every change; the server
    # sends webhooks.
    on_change: Callable[[SandboxConnection, str, list[SandboxEvent]], None] | None = None
    oauth: OAuthMemory = field(default_factory=OAuthMemory)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def changed(
        self, connection: SandboxConnection, event: str, events: list[SandboxEvent] | None = None
    ) -> None:
        if self.on_change is not None:
            self.on_change(connection, event, events or [])

    def _settle(self, connection: SandboxConnection, moment: datetime) -> None:
        if connection.settle(moment):
            self.changed(connection, "synced")

    def settle_all(self) -> None:
        with self.lock:
            moment = now()
            for connection in list(self.connections.values()):
                self._settle(connection, moment)

    def reset(self) -> None:
        with self.lock:
            self.connections.clear()
            self.events.clear()
            self.bots.clear()
            self.event_page_limit = EVENT_PAGE_LIMIT
            self.requests.clear()
            self.faults.clear()
            self.oauth.reset()

    def admit_write(self) -> None:
        """Refuse a write beyond `write_rate` in the last second, as Meeting BaaS does (429)."""
        if self.write_rate <= 0:
            return
        with self.lock:
            moment = time.monotonic()
            self.write_times = [t for t in self.write_times if moment - t < 1.0]
            if len(self.write_times) >= self.write_rate:
                self.throttled += 1
                raise SandboxError(429, "FST_ERR_RATE_LIMIT", "Rate limit exceeded", retry_after=1)
            self.write_times.append(moment)

    def add_fault(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def clear_faults(self) -> int:
        with self.lock:
            cleared = len(self.faults)
            self.faults.clear()
        return cleared

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    if fault.count is not None:
                        fault.count -= 1
                    return fault
        return None

    def log_request(
        self,
        method: str,
        path: str,
        *,
        query: dict,
        headers: dict,
        body: dict,
        form: dict | None = None,
    ) -> None:
        """Remember a request, its secrets redacted (the log is served over HTTP)."""
        entry = {
            "method": method,
            "path": path,
            "query": redacted(query),
            "headers": redacted(headers),
            "json": redacted(body),
        }
        if form is not None:
            entry["form"] = redacted(form)
        with self.lock:
            self.request_count += 1
            self.requests.append(entry)
            del self.requests[:-2000]

    def hold_credentials(self, connection: SandboxConnection, body: dict) -> None:
        """Keep the OAuth credentials a create or an update sent, as Meeting BaaS would."""
        with self.lock:
            connection.client_id = body["oauth_client_id"]
            connection.client_secret = body["oauth_client_secret"]
            connection.refresh_token = body["oauth_refresh_token"]

    def create(
        self, api_version: str, account: FakeAccount, raw_calendar_id: str
    ) -> SandboxConnection:
        with self.lock:
            calendar = next((c for c in account.calendars if c.id == raw_calendar_id), None)
            if calendar is None:
                raise SandboxError(
                    404,
                    "FST_ERR_RAW_CALENDAR_NOT_FOUND",
                    f"No calendar {raw_calendar_id!r} in this account.",
                )
            for existing in self.connections.values():
                if (existing.api_version, existing.account_email, existing.raw_calendar_id) == (
                    api_version,
                    account.email,
                    raw_calendar_id,
                ):
                    raise SandboxError(
                        409,
                        "FST_ERR_CALENDAR_ALREADY_EXISTS",
                        "Calendar connection already exists.",
                    )
            if len(self.connections) >= self.connection_limit:
                raise SandboxError(
                    429,
                    "FST_ERR_CALENDAR_LIMIT",
                    "The team's calendar connection limit is reached.",
                )
            created = now()
            connection = SandboxConnection(
                id=uuid.uuid4(),
                api_version=api_version,
                platform=account.platform,
                account_email=account.email,
                raw_calendar_id=raw_calendar_id,
                calendar_name=calendar.name,
                created_at=created,
                updated_at=created,
                sync_due_at=created + timedelta(seconds=self.sync_delay),
                subscription_expires_at=created + timedelta(days=7),
            )
            self.connections[connection.id] = connection
            self.changed(connection, "calendar.connection_created")
            return connection

    def get(self, api_version: str, connection_id: str) -> SandboxConnection:
        with self.lock:
            try:
                connection = self.connections[uuid.UUID(connection_id)]
            except (ValueError, KeyError):
                connection = None
            if connection is None or connection.api_version != api_version:
                raise SandboxError(
                    404, "FST_ERR_CALENDAR_NOT_FOUND", "Calendar connection not found."
                )
            self._settle(connection, now())
            return connection

    def listing(self, api_version: str) -> list[SandboxConnection]:
        with self.lock:
            moment = now()
            found = [c for c in self.connections.values() if c.api_version == api_version]
            for connection in found:
                self._settle(connection, moment)
            return sorted(found, key=lambda c: (c.created_at, str(c.id)))

    def delete(self, connection: SandboxConnection) -> None:
        with self.lock:
            held = self.events.pop(connection.id, None) or {}
            # Its bot schedules are cancelled; bots already in their meetings go on (the spec).
            self.bots[:] = [b for b in self.bots if b.event.id not in held or b.status != "queued"]
            if self.connections.pop(connection.id, None) is not None:
                self.changed(connection, "calendar.connection_deleted")

    def force(self, connection_id: str, changes: dict) -> SandboxConnection:
        """Put a connection into a state a test or a person wants to see (error, revoked...)."""
        with self.lock:
            connection = self.connection_by_id(connection_id)
            self._settle(connection, now())
            for name in ("status", "status_message", "sync_status", "sync_error"):
                if name in changes:
                    setattr(connection, name, changes[name])
            if changes.get("synced") is True and connection.synced_at is None:
                connection.synced_at = now()
                connection.sync_status = connection.sync_status or "success"
            connection.updated_at = now()
            self.changed(connection, "calendar.connection_updated")
            return connection

    def events_of(self, connection: SandboxConnection) -> list[SandboxEvent]:
        """The connection's events, soonest first (made up the first time they are asked for)."""
        with self.lock:
            held = self.events.get(connection.id)
            if held is None:
                held = self.events[connection.id] = {e.id: e for e in fake_events(connection)}
            return sorted(held.values(), key=lambda e: (e.start, str(e.id)))

    def event(self, connection: SandboxConnection, event_id: str) -> SandboxEvent:
        with self.lock:
            self.events_of(connection)
            try:
                return self.events[connection.id][uuid.UUID(event_id)]
            except (ValueError, KeyError) as exc:
                raise SandboxError(404, "FST_ERR_EVENT_NOT_FOUND", "Event not found.") from exc

    def event_anywhere(self, api_version: str, event_id: str) -> SandboxEvent:
        """An event found by its id alone, as v1 finds them."""
        event = self._event_by_id(event_id)
        with self.lock:
            connection = self.connections.get(event.connection_id)
        if connection is None or connection.api_version != api_version:
            raise SandboxError(404, "FST_ERR_EVENT_NOT_FOUND", "Event not found.")
        return event

    def bot_scheduled(self, event: SandboxEvent, api_version: str) -> None:
        """Make the bot of an event just given one (`event.bot`, its settings)."""
        with self.lock:
            self.bots.append(made(event, api_version, event.bot or {}, now()))

    def bot_changed(self, event: SandboxEvent) -> None:
        """A bot's new settings: its `extra` follows; a bot removed before its meeting began is
        forgotten."""
        with self.lock:
            bot = self.bot_of(event.id)
            if bot is None or bot.status != "queued":
                return
            if event.bot is None:
                self.bots.remove(bot)
            elif isinstance(event.bot.get("extra"), dict):
                bot.extra = event.bot["extra"]

    def _bot_follows(self, event: SandboxEvent, was_at: datetime, *, keep: bool) -> None:
        bot = self.bot_of(event.id)
        if not keep and event.bot is not None:
            event.bot = None
            self.bot_changed(event)
        elif bot is not None and event.bot is not None:
            follow(bot, event, was_at, now())

    def bot_of(self, event_id: uuid.UUID) -> SandboxBot | None:
        """The event's latest bot."""
        with self.lock:
            return next((b for b in reversed(self.bots) if b.event.id == event_id), None)

    def bots_due(self, moment: datetime) -> list[tuple[SandboxBot, list[dict]]]:
        """Play every bot's steps due by `moment`: each bot with the webhooks it sends."""
        with self.lock:
            played = []
            # In start order, so the cap refuses the later bots of a busy day.
            for bot in sorted((b for b in self.bots if b.steps), key=lambda b: b.event.start):
                self._admit_to_the_cap(bot, moment)
                played.append((bot, bot.due(moment)))
        return [(bot, sent) for bot, sent in played if sent]

    def _admit_to_the_cap(self, bot: SandboxBot, moment: datetime) -> None:
        joins_at = bot.at("joining_call")
        if (
            self.bots_per_day
            and bot.steps[:1] == ["joining_call"]
            and bot.event.status != "cancelled"
            and joins_at <= moment
            and joined_within(self.bots, joins_at) >= self.bots_per_day
        ):
            refuse_past_the_cap(bot)

    def add_event(self, connection_id: str, fields: dict) -> SandboxEvent:
        """A new event, announced like a calendar change (control API): one-off unless
        `recurring`; `organizer_email`, other `attendees` (addresses) and `status`
        ("tentative") may be given."""
        with self.lock:
            connection = self.connection_by_id(connection_id)
            self.events_of(connection)
            start, end = _moments(fields)
            event = new_event(
                connection,
                title=str(fields.get("title") or "New meeting"),
                start=start,
                end=end,
                meeting_url=fields.get("meeting_url") or None,
                moment=now(),
                organizer_email=fields.get("organizer_email") or None,
                attendees=tuple(str(a) for a in fields.get("attendees") or ()),
                status="tentative" if fields.get("status") == "tentative" else "confirmed",
                is_recurring=fields.get("recurring") is True,
            )
            self.events[connection.id][event.id] = event
            self.changed(connection, "calendar.event_created", [event])
            return event

    def add_shared_event(self, fields: dict) -> list[SandboxEvent]:
        """One meeting in several calendars (its organizer invited colleagues): in each named
        connection, an event of its own with the same meeting URL, times and organizer,
        each announced like a calendar change (control API)."""
        named = fields.get("connection_ids")
        if not isinstance(named, list) or not named or len(named) > MAX_SHARED:
            raise SandboxError(
                400, "FST_ERR_VALIDATION", f"connection_ids: a list of 1 to {MAX_SHARED} ids"
            )
        with self.lock:
            connections = [self.connection_by_id(str(c)) for c in named]
            start, end = _moments(fields)
            organizer = str(fields.get("organizer_email") or connections[0].account_email)
            added = []
            for connection in connections:
                self.events_of(connection)
                event = new_event(
                    connection,
                    title=str(fields.get("title") or "Shared meeting"),
                    start=start,
                    end=end,
                    meeting_url=fields.get("meeting_url") or None,
                    moment=now(),
                )
                event.organizer_email = organizer
                self.events[connection.id][event.id] = event
                added.append((connection, event))
            for connection, event in added:
                self.changed(connection, "calendar.event_created", [event])
            return [event for _, event in added]

    def change_event(self, event_id: str, fields: dict) -> SandboxEvent:
        """Move, retitle, cancel or decline an event, or change its meeting URL, announced like
        a calendar change (control API); its bot follows (sandbox/bots.py `follow`), unless
        `"keep_bot": false` plays a Meeting BaaS that lost it in the change.

        A new start without an end keeps the event's length.
        """
        with self.lock:
            event = self._event_by_id(event_id)
            connection = self.connections[event.connection_id]
            was_at = event.start
            if fields.get("cancelled") is True:
                event.status = "cancelled"
            elif fields.get("status") in ("confirmed", "tentative"):
                event.status = fields["status"]
            if "declined" in fields:
                event.declined = fields["declined"] is True
            if "start" in fields or "end" in fields:
                start = _moment(fields.get("start")) if "start" in fields else event.start
                default_end = (start or event.start) + (event.end - event.start)
                event.start, event.end = _moments(
                    {"start": start, "end": fields.get("end") or default_end}
                )
            if "title" in fields:
                event.title = str(fields["title"])
            if "meeting_url" in fields:
                event.meeting_url = fields["meeting_url"] or None
            event.is_exception = event.is_recurring
            event.updated_at = now()
            self._bot_follows(event, was_at, keep=fields.get("keep_bot") is not False)
            cancelled = event.status == "cancelled"
            change = "calendar.event_cancelled" if cancelled else "calendar.event_updated"
            self.changed(connection, change, [event])
            return event

    def _event_by_id(self, event_id: str) -> SandboxEvent:
        try:
            wanted = uuid.UUID(event_id)
        except ValueError:
            wanted = None
        with self.lock:
            for held in self.events.values():
                if wanted in held:
                    return held[wanted]
        raise SandboxError(404, "FST_ERR_EVENT_NOT_FOUND", "Event not found.")

    def connection_by_id(self, connection_id: str) -> SandboxConnection:
        try:
            return self.connections[uuid.UUID(str(connection_id))]
        except (ValueError, KeyError) as exc:
            raise SandboxError(404, "FST_ERR_CALENDAR_NOT_FOUND", "No such connection.") from exc


def _moments(fields: dict) -> tuple[datetime, datetime]:
    """`start` and `end` of a control request (ISO 8601 text or datetimes); an hour by default."""
    try:
        start = _moment(fields.get("start")) or now() + timedelta(minutes=30)
        end = _moment(fields.get("end")) or start + timedelta(hours=1)
    except ValueError as exc:
        raise SandboxError(400, "FST_ERR_VALIDATION", f"start or end: {exc}") from exc
    if end <= start:
        raise SandboxError(400, "FST_ERR_VALIDATION", "end must be after start")
    return start, end


def _moment(value: object) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone")
    return moment.astimezone(UTC)
