"""The sandbox's answers about events and the bots on them, both versions, shaped as the specs say.

Where the specs leave a behaviour open, the sandbox picks one and says so here:
- v2 POST /bots refuses an event per event (partial success) with these codes:
  MISSING_MEETING_URL, BOT_ALREADY_SCHEDULED, EVENT_CANCELLED, EVENT_ALREADY_STARTED;
  PATCH answers 404 for an event without a bot and 409 within 4 minutes of its start (the spec's
  rule), per event (BOT_NOT_FOUND, BOT_NOT_UPDATABLE) when it targets a whole series.
- v1 documents no errors: the sandbox answers 409 for an event that already has a bot and 400
  for one without a meeting URL, and changes nothing then.
- Unknown body fields are refused (400), so a misspelt field shows up in tests.
- Events are listed once the connection's first sync is done (v1 clients rely on it).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sandbox import bots as sandbox_bots
from sandbox.accounts import SandboxError
from sandbox.bots import SandboxBot
from sandbox.events import SandboxEvent
from sandbox.state import SandboxConnection, SandboxState, iso, now

Answer = tuple[int, object]

V2_BOT_FIELDS = {
    "bot_name",
    "bot_image",
    "bot_image_config",
    "recording_mode",
    "entry_message",
    "timeout_config",
    "zoom_config",
    "extra",
    "streaming_enabled",
    "streaming_config",
    "transcription_enabled",
    "transcription_config",
    "callback_enabled",
    "callback_config",
}
V1_BOT_FIELDS = {
    "bot_image",
    "bot_name",
    "deduplication_key",
    "enter_message",
    "extra",
    "noone_joined_timeout",
    "recording_mode",
    "silence_timeout",
    "speech_to_text",
    "streaming_audio_frequency",
    "streaming_input",
    "streaming_output",
    "transcription_custom_parameters",
    "waiting_room_timeout",
    "webhook_url",
    "zoom_access_token_url",
    "zoom_obf_token",
    "zoom_obf_token_url",
    "zoom_obf_token_user_id",
    "zoom_sdk_id",
    "zoom_sdk_pwd",
}
TARGET_FIELDS = {"series_id", "all_occurrences", "event_id"}
RECORDING_MODES = {"speaker_view", "gallery_view", "audio_only"}
V1_PAGE_SIZE = 100  # the spec: "The limit of events returned is 100"
UPDATE_DEADLINE = sandbox_bots.CHANGE_DEADLINE
# DELETE of a series: "occurrences whose scheduled time is already well in the past are skipped".
LONG_PAST = timedelta(days=1)


def _invalid(message: str) -> SandboxError:
    return SandboxError(400, "FST_ERR_VALIDATION", message)


# Cursors, as the v2 spec describes them: base64 of "<isoDate>::<id>", "-" for backward.


def _cursor(event_start: datetime, item_id: object, backward: bool = False) -> str:
    # Full precision: a cursor cut to milliseconds would serve its own item again.
    token = base64.b64encode(f"{event_start.isoformat()}::{item_id}".encode()).decode()
    return f"-{token}" if backward else token


def _page(
    items: list, key: Callable, limit: int, cursor: str | None
) -> tuple[list, str | None, str | None]:
    """One page of `items` (sorted by `key`: (start, id)), its next and previous cursors."""
    position = None
    backward = bool(cursor and cursor.startswith("-"))
    if cursor:
        try:
            moment, _, item_id = base64.b64decode(cursor.lstrip("-")).decode().partition("::")
            position = (datetime.fromisoformat(moment), item_id)
        except (ValueError, binascii.Error) as exc:
            raise _invalid("querystring/cursor is invalid") from exc
    keyed = [(key(item), item) for item in items]
    if position is None:
        chosen = keyed[:limit]
    elif backward:
        chosen = [pair for pair in keyed if pair[0] < position][-limit:]
    else:
        chosen = [pair for pair in keyed if pair[0] > position][:limit]
    if not chosen:
        return [], None, None
    first, last = chosen[0][0], chosen[-1][0]
    more = any(pair[0] > last for pair in keyed)
    earlier = any(pair[0] < first for pair in keyed)
    next_cursor = _cursor(*last) if more else None
    prev_cursor = _cursor(*first, backward=True) if earlier else None
    return [item for _, item in chosen], next_cursor, prev_cursor


def _event_key(event: SandboxEvent) -> tuple[datetime, str]:
    return event.start, str(event.id)


def _limit(query: dict, ceiling: int) -> int:
    try:
        limit = int(query.get("limit", 50))
    except ValueError as exc:
        raise _invalid("querystring/limit must be integer") from exc
    if not 1 <= limit <= 250:
        raise _invalid("querystring/limit must be <= 250 and >= 1")
    return min(limit, ceiling)


def _when(query: dict, name: str) -> datetime | None:
    value = query.get(name)
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise _invalid(f'querystring/{name} must match format "date-time"') from exc
    if moment.tzinfo is None:
        raise _invalid(f'querystring/{name} must match format "date-time"')
    return moment


def _synced_events(state: SandboxState, c: SandboxConnection) -> list[SandboxEvent]:
    return state.events_of(c) if c.synced_at is not None else []


def _shown(query: dict, events: list[SandboxEvent]) -> list[SandboxEvent]:
    if query.get("show_cancelled", "true") == "false":
        events = [e for e in events if e.status != "cancelled"]
    return events


# v2


def _v2_instance(e: SandboxEvent) -> dict:
    return {
        "event_id": str(e.id),
        "title": e.title,
        "start_time": iso(e.start),
        "end_time": iso(e.end),
        "status": e.status,
        "is_exception": e.is_exception,
        "meeting_url": e.meeting_url,
        "meeting_platform": e.meeting_platform,
        "calendar_id": str(e.connection_id),
        "bot_scheduled": e.bot is not None,
        "created_at": iso(e.created_at),
    }


def _v2_listed(e: SandboxEvent) -> dict:
    return {
        "series_id": str(e.series_id),
        "event_type": "recurring" if e.is_recurring else "one_off",
        **_v2_instance(e),
    }


def v2_events(state: SandboxState, calendar_id: str, query: dict, **_: object) -> Answer:
    c = state.get("v2", calendar_id)
    limit = _limit(query, state.event_page_limit)
    start, end = _when(query, "start_date"), _when(query, "end_date")
    events = _shown(query, _synced_events(state, c))
    if start:
        events = [e for e in events if e.start >= start]
    if end:
        events = [e for e in events if e.end <= end]
    if query.get("status"):
        wanted = set(query["status"].split(","))
        events = [e for e in events if e.status in wanted]
    page, cursor, prev = _page(events, _event_key, limit, query.get("cursor"))
    data = [_v2_listed(e) for e in page]
    return 200, {"success": True, "data": data, "cursor": cursor, "prev_cursor": prev}


def v2_series(state: SandboxState, calendar_id: str, query: dict, **_: object) -> Answer:
    c = state.get("v2", calendar_id)
    limit = _limit(query, state.event_page_limit)
    grouped: dict[object, list[SandboxEvent]] = {}
    for event in _synced_events(state, c):
        grouped.setdefault(event.series_id, []).append(event)
    series = list(grouped.values())
    if query.get("event_type"):
        wanted = set(query["event_type"].split(","))
        series = [s for s in series if ("recurring" if s[0].is_recurring else "one_off") in wanted]
    page, cursor, prev = _page(
        series, lambda s: (s[0].start, str(s[0].series_id)), limit, query.get("cursor")
    )
    data = [
        {
            "series_id": str(members[0].series_id),
            "event_type": "recurring" if members[0].is_recurring else "one_off",
            "calendar_id": str(c.id),
            "created_at": iso(members[0].created_at),
            "events": [_v2_instance(e) for e in _shown(query, members)],
        }
        for members in page
    ]
    return 200, {"success": True, "data": data, "cursor": cursor, "prev_cursor": prev}


def v2_event(state: SandboxState, calendar_id: str, event_id: str, **_: object) -> Answer:
    c = state.get("v2", calendar_id)
    e = state.event(c, event_id)
    data = {
        **_v2_listed(e),
        "description": None,
        "location": None,
        "timezone": "UTC",
        "is_all_day": False,
        "organizer_email": e.organizer_email,
        "organizer_name": None,
        "attendees": [
            {
                "email": email,
                "name": None,
                "response_status": response,
                "self": email == c.account_email,
            }
            for email, response in e.responses(c.account_email)
        ],
        "calendar_platform": c.platform,
        "raw_payload": None,
        "updated_at": iso(e.updated_at),
    }
    return 200, {"success": True, "data": data}


def _v2_targets(state: SandboxState, c: SandboxConnection, body: dict) -> list[SandboxEvent]:
    if not isinstance(body.get("series_id"), str):
        raise _invalid("body must have required property 'series_id'")
    if not isinstance(body.get("all_occurrences"), bool):
        raise _invalid("body must have required property 'all_occurrences'")
    series = [e for e in state.events_of(c) if str(e.series_id) == body["series_id"]]
    if not series:
        raise SandboxError(404, "FST_ERR_EVENT_SERIES_NOT_FOUND", "Event series not found.")
    if body["all_occurrences"]:
        return series
    if not isinstance(body.get("event_id"), str):
        raise _invalid("body/event_id is required when all_occurrences is false")
    chosen = [e for e in series if str(e.id) == body["event_id"]]
    if not chosen:
        raise SandboxError(404, "FST_ERR_EVENT_NOT_FOUND", "Event not found in this series.")
    return chosen


def _v2_config(body: dict, *, name_required: bool) -> dict:
    unknown = set(body) - V2_BOT_FIELDS - TARGET_FIELDS
    if unknown:
        raise _invalid(f"body must NOT have additional properties: {sorted(unknown)}")
    name = body.get("bot_name")
    if (name_required or "bot_name" in body) and not (
        isinstance(name, str) and 1 <= len(name) <= 255
    ):
        raise _invalid("body/bot_name must be a string of 1 to 255 characters")
    if "recording_mode" in body and body["recording_mode"] not in RECORDING_MODES:
        raise _invalid("body/recording_mode must be equal to one of the allowed values")
    return {k: v for k, v in body.items() if k not in TARGET_FIELDS}


def _failure(e: SandboxEvent, code: str, message: str) -> dict:
    return {"event_id": str(e.id), "code": code, "message": message, "details": None}


def _outcome(done: list[SandboxEvent], failed: list[dict]) -> dict:
    return {"success": True, "data": [{"event_id": str(e.id)} for e in done], "errors": failed}


def v2_schedule_bots(state: SandboxState, calendar_id: str, body: dict, **_: object) -> Answer:
    c = state.get("v2", calendar_id)
    config = _v2_config(body, name_required=True)
    with state.lock:
        targets = _v2_targets(state, c, body)
        if body["all_occurrences"]:
            targets = [e for e in targets if e.start > now()]
        done, failed = [], []
        for e in targets:
            refusal = _refusal(e)
            if refusal:
                failed.append(_failure(e, *refusal))
            else:
                e.bot = config
                state.bot_scheduled(e, "v2")
                done.append(e)
    return 201, _outcome(done, failed)


def _refusal(e: SandboxEvent) -> tuple[str, str] | None:
    if e.status == "cancelled":
        return "EVENT_CANCELLED", "The event is cancelled."
    if not e.meeting_url:
        return "MISSING_MEETING_URL", "The event has no meeting URL."
    if e.bot is not None:
        return "BOT_ALREADY_SCHEDULED", "A bot is already scheduled for this event."
    if e.start <= now():
        return "EVENT_ALREADY_STARTED", "The event has already started."
    return None


def v2_update_bots(state: SandboxState, calendar_id: str, body: dict, **_: object) -> Answer:
    c = state.get("v2", calendar_id)
    config = _v2_config(body, name_required=False)
    with state.lock:
        targets = _v2_targets(state, c, body)
        single = not body["all_occurrences"]
        done, failed = [], []
        for e in targets:
            if e.bot is None:
                if single:
                    raise SandboxError(
                        404, "FST_ERR_CALENDAR_BOT_NOT_FOUND", "No bot is scheduled for this event."
                    )
                continue
            if e.start - now() < UPDATE_DEADLINE:
                message = "The bot joins in less than 4 minutes (or has joined): it cannot change."
                if single:
                    raise SandboxError(409, "FST_ERR_CALENDAR_BOT_NOT_UPDATABLE", message)
                failed.append(_failure(e, "BOT_NOT_UPDATABLE", message))
                continue
            e.bot = {**e.bot, **config}
            state.bot_changed(e)
            done.append(e)
    return 200, _outcome(done, failed)


def v2_delete_bots(state: SandboxState, calendar_id: str, body: dict, **_: object) -> Answer:
    c = state.get("v2", calendar_id)
    unknown = set(body) - TARGET_FIELDS
    if unknown:
        raise _invalid(f"body must NOT have additional properties: {sorted(unknown)}")
    with state.lock:
        targets = _v2_targets(state, c, body)
        if not body["all_occurrences"] and targets[0].bot is None:
            raise SandboxError(
                404, "FST_ERR_CALENDAR_BOT_NOT_FOUND", "No bot is scheduled for this event."
            )
        recent = now() - LONG_PAST
        done = [e for e in targets if e.bot is not None and e.start > recent]
        for e in done:
            e.bot = None
            state.bot_changed(e)
    return 200, _outcome(done, [])


# v1


def _v1_bot_param(config: dict) -> dict:
    stt = config.get("speech_to_text")
    provider = stt.get("provider") if isinstance(stt, dict) else stt
    return {
        "bot_name": config.get("bot_name"),
        "bot_image": config.get("bot_image"),
        "deduplication_key": config.get("deduplication_key"),
        "enter_message": config.get("enter_message"),
        "extra": config.get("extra") or {},
        "noone_joined_timeout": config.get("noone_joined_timeout"),
        "recording_mode": config.get("recording_mode"),
        # The sandbox never serves a key back, whatever it was sent.
        "speech_to_text_api_key": None,
        "speech_to_text_provider": provider,
        "streaming_audio_frequency": config.get("streaming_audio_frequency"),
        "streaming_input": config.get("streaming_input"),
        "streaming_output": config.get("streaming_output"),
        "transcription_custom_parameters": config.get("transcription_custom_parameters") or {},
        "waiting_room_timeout": config.get("waiting_room_timeout"),
        "webhook_url": config.get("webhook_url") or "",
        "zoom_access_token_url": None,
        "zoom_obf_token": None,
        "zoom_obf_token_url": None,
        "zoom_obf_token_user_id": None,
        "zoom_sdk_id": None,
        "zoom_sdk_pwd": None,
    }


def _v1_event(state: SandboxState, e: SandboxEvent) -> dict:
    c = state.connections.get(e.connection_id)
    google = c is None or c.platform == "google"
    organizer = (
        {"email": e.organizer_email} if google else {"emailAddress": {"address": e.organizer_email}}
    )
    # v1 has no status but passes the provider's event on: Google's, or Microsoft's showAs.
    shown = "tentative" if e.status == "tentative" else "confirmed"
    raw_status = (
        {"status": shown} if google else {"showAs": "tentative" if shown != "confirmed" else "busy"}
    )
    account = c.account_email if c is not None else ""
    responses = e.responses(account)
    return {
        "uuid": str(e.id),
        "google_id": e.provider_id,
        "calendar_uuid": str(e.connection_id),
        "name": e.title,
        "start_time": iso(e.start),
        "end_time": iso(e.end),
        "meeting_url": e.meeting_url or "",
        "deleted": e.status == "cancelled",
        "is_organizer": c is not None and e.organizer_email == c.account_email,
        "is_recurring": e.is_recurring,
        "recurring_event_id": e.provider_series_id,
        "last_updated_at": iso(e.updated_at),
        "attendees": [{"email": email, "name": None} for email, _ in responses],
        "raw": {
            "id": e.provider_id,
            "summary": e.title,
            "organizer": organizer,
            **raw_status,
            **_v1_raw_responses(google, account, responses),
        },
        "bot_param": _v1_bot_param(e.bot) if e.bot is not None else None,
    }


def _v1_raw_responses(google: bool, account: str, attendees: list[tuple[str, str]]) -> dict:
    """Who answered what, as the provider's own event (v1's `raw`) says it: Google's
    `attendees[].responseStatus` with `self`; Microsoft's `attendees[].status.response` and
    the account's own answer in `responseStatus`."""
    if google:
        return {
            "attendees": [
                {"email": email, "responseStatus": response, "self": email == account}
                for email, response in attendees
            ]
        }
    own = next((response for email, response in attendees if email == account), "none")
    return {
        "attendees": [
            {"emailAddress": {"address": email}, "status": {"response": response}}
            for email, response in attendees
        ],
        "responseStatus": {"response": own},
    }


def _v1_connection(state: SandboxState, uuid: str) -> SandboxConnection:
    c = state.get("v1", uuid)
    if c.status == "revoked":  # v1 has no status: a revoked calendar is simply gone
        raise SandboxError(404, "FST_ERR_CALENDAR_NOT_FOUND", "Calendar not found.")
    return c


def v1_events(state: SandboxState, query: dict, **_: object) -> Answer:
    if not query.get("calendar_id"):
        raise _invalid("calendar_id is required")
    c = _v1_connection(state, query["calendar_id"])
    events = _synced_events(state, c)
    after, before = _when(query, "start_date_gte"), _when(query, "start_date_lte")
    moment = now()
    chosen = {
        "upcoming": lambda e: e.start >= moment,
        "past": lambda e: e.start < moment,
        "all": lambda e: True,
    }.get(query.get("status") or "upcoming")
    if chosen is None:
        raise _invalid("status must be 'upcoming', 'past' or 'all'")
    events = [
        e
        for e in events
        if chosen(e)
        and (after is None or e.start >= after)
        and (before is None or e.start <= before)
    ]
    limit = min(V1_PAGE_SIZE, state.event_page_limit)
    page, cursor, _prev = _page(events, _event_key, limit, query.get("cursor"))
    return 200, {"data": [_v1_event(state, e) for e in page], "next": cursor}


def v1_event(state: SandboxState, uuid: str, **_: object) -> Answer:
    return 200, _v1_event(state, state.event_anywhere("v1", uuid))


def _v1_targets(state: SandboxState, uuid: str, query: dict) -> list[SandboxEvent]:
    event = state.event_anywhere("v1", uuid)
    _v1_connection(state, str(event.connection_id))
    if query.get("all_occurrences") != "true" or not event.is_recurring:
        return [event]
    series = state.events_of(state.connections[event.connection_id])
    later = [e for e in series if e.series_id == event.series_id and e.start > now()]
    return [event, *(e for e in later if e is not event)]


def _v1_config(body: dict, *, name_required: bool) -> dict:
    unknown = set(body) - V1_BOT_FIELDS
    if unknown:
        raise _invalid(f"unknown fields: {sorted(unknown)}")
    if name_required and not isinstance(body.get("bot_name"), str):
        raise _invalid("bot_name is required")
    if body.get("recording_mode") not in (None, *RECORDING_MODES):
        raise _invalid("recording_mode must be speaker_view, gallery_view or audio_only")
    return body


def v1_schedule_bot(state: SandboxState, uuid: str, query: dict, body: dict, **_: object) -> Answer:
    config = _v1_config(body, name_required=True)
    with state.lock:
        targets = _v1_targets(state, uuid, query)
        if any(e.bot is not None for e in targets):
            raise SandboxError(
                409, "FST_ERR_BOT_ALREADY_SCHEDULED", "A bot is already scheduled for this event."
            )
        if any(e.status == "cancelled" for e in targets):
            raise SandboxError(400, "FST_ERR_EVENT_DELETED", "The event was deleted.")
        if not all(e.meeting_url for e in targets):
            raise SandboxError(400, "FST_ERR_NO_MEETING_URL", "The event has no meeting URL.")
        for e in targets:
            e.bot = config
            state.bot_scheduled(e, "v1")
    return 200, [_v1_event(state, e) for e in targets]


def v1_update_bot(state: SandboxState, uuid: str, query: dict, body: dict, **_: object) -> Answer:
    config = _v1_config(body, name_required=False)
    with state.lock:
        targets = [e for e in _v1_targets(state, uuid, query) if e.bot is not None]
        if not targets:
            raise SandboxError(404, "FST_ERR_BOT_NOT_FOUND", "No bot is scheduled for this event.")
        for e in targets:
            e.bot = {**e.bot, **{k: v for k, v in config.items() if v is not None}}
            state.bot_changed(e)
    return 200, [_v1_event(state, e) for e in targets]


def v1_delete_bot(state: SandboxState, uuid: str, query: dict, **_: object) -> Answer:
    with state.lock:
        targets = _v1_targets(state, uuid, query)
        for e in targets:
            e.bot = None
            state.bot_changed(e)
    return 200, [_v1_event(state, e) for e in targets]


# The bots lists. The sandbox pages them oldest first, by (created_at, id).
# The statuses GET /v2/bots filters on, as its spec lists them (the sandbox's bots go through
# queued, joining_call, in_call_recording, then completed or failed).
V2_BOT_STATUSES = {
    "queued",
    "pickup_delayed",
    "transcribing",
    "completed",
    "failed",
    "joining_call",
    "in_waiting_room",
    "in_waiting_for_host",
    "in_call_not_recording",
    "in_call_recording",
    "recording_paused",
    "recording_resumed",
    "call_ended",
    "recording_succeeded",
    "recording_failed",
    "api_request_stop",
    "bot_rejected",
    "bot_removed",
    "bot_removed_too_early",
    "waiting_room_timeout",
    "invalid_meeting_url",
    "meeting_error",
}
V1_BOT_PAGE = 50  # v1's largest page


def _bot_key(bot: SandboxBot) -> tuple[datetime, str]:
    return bot.created_at, str(bot.id)


def _bots_of(state: SandboxState, api_version: str, query: dict) -> list[SandboxBot]:
    when = _when if api_version == "v2" else _v1_when
    created_after, created_before = when(query, "created_after"), when(query, "created_before")
    ended_after = when(query, "ended_after")
    with state.lock:
        chosen = [b for b in state.bots if b.api_version == api_version]
    return sorted(
        (
            b
            for b in chosen
            if (created_after is None or b.created_at >= created_after)
            and (created_before is None or b.created_at <= created_before)
            and (ended_after is None or (b.ended_at is not None and b.ended_at >= ended_after))
        ),
        key=_bot_key,
    )


def v2_bots(state: SandboxState, query: dict, **_: object) -> Answer:
    bots = _bots_of(state, "v2", query)
    if query.get("status"):
        wanted = set(query["status"].split(","))
        unknown = wanted - V2_BOT_STATUSES
        if unknown:
            raise _invalid(f"querystring/status has unknown values: {sorted(unknown)}")
        bots = [b for b in bots if b.status in wanted]
    page, cursor, prev = _page(bots, _bot_key, _limit(query, 250), query.get("cursor"))
    data = [sandbox_bots.v2_item(b) for b in page]
    return 200, {"success": True, "data": data, "cursor": cursor, "prev_cursor": prev}


def v1_bots(state: SandboxState, query: dict, **_: object) -> Answer:
    try:
        limit = int(query.get("limit", 10))
    except ValueError as exc:
        raise _invalid("limit must be an integer") from exc
    if not 1 <= limit <= V1_BOT_PAGE:
        raise _invalid(f"limit must be between 1 and {V1_BOT_PAGE}")
    bots = _bots_of(state, "v1", query)
    if query.get("filter_by_extra"):
        bots = [b for b in bots if _extra_matches(b.extra or {}, query["filter_by_extra"])]
    page, cursor, _prev = _page(bots, _bot_key, limit, query.get("cursor"))
    items = [sandbox_bots.v1_item(b, state.bots.index(b) + 1) for b in page]
    return 200, {"bots": items, "last_updated": iso(now()), "next_cursor": cursor}


def _v1_when(query: dict, name: str) -> datetime | None:
    """v1's times: "YYYY-MM-DDThh:mm:ss", in UTC (a zone is taken too)."""
    value = query.get(name)
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise _invalid(f"{name} must be an ISO 8601 date-time") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _extra_matches(extra: dict, conditions: str) -> bool:
    """v1's `filter_by_extra`: "field:value,field2:value2", every one matching exactly."""
    for condition in conditions.split(","):
        name, _, value = condition.partition(":")
        if str(extra.get(name.strip(), "\0")) != value.strip():
            return False
    return True


ROUTES: list[tuple[str, str, object]] = [
    ("GET", "/v2/bots", v2_bots),
    ("GET", "/bots/bots_with_metadata", v1_bots),
    ("GET", "/v2/calendars/{calendar_id}/events", v2_events),
    ("GET", "/v2/calendars/{calendar_id}/series", v2_series),
    ("GET", "/v2/calendars/{calendar_id}/events/{event_id}", v2_event),
    ("POST", "/v2/calendars/{calendar_id}/bots", v2_schedule_bots),
    ("PATCH", "/v2/calendars/{calendar_id}/bots", v2_update_bots),
    ("DELETE", "/v2/calendars/{calendar_id}/bots", v2_delete_bots),
    ("GET", "/calendar_events/", v1_events),
    ("GET", "/calendar_events/{uuid}", v1_event),
    ("POST", "/calendar_events/{uuid}/bot", v1_schedule_bot),
    ("PATCH", "/calendar_events/{uuid}/bot", v1_update_bot),
    ("DELETE", "/calendar_events/{uuid}/bot", v1_delete_bot),
]
