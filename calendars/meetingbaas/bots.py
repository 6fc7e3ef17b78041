"""What Meeting BaaS says of bots, read from the v2 bot webhooks and both versions' bots lists.

`bot.status_change` (`data.status.code`, `created_at`), `bot.completed` (`joined_at`,
`exited_at`, `duration_seconds`), `bot.failed` (`error_code`, `error_message`): each carries the
calendar `event_id` and, beside `data`, the `extra` the bot was scheduled with. v2's list items
have no `event_id`; v1's (`/bots/bots_with_metadata`) have no status, only `ended_at` and
`errors`. Artifact URLs (video, audio, transcripts: signed, valid 4 h) are never read.
"""

from __future__ import annotations

import re
from datetime import datetime
from uuid import UUID

from calendars.meetingbaas.errors import BadResponse
from calendars.meetingbaas.parsing import bounded, require, timestamp, uuid_of
from calendars.meetingbaas.types import MEETING_KEY, BotNews, BotStatus

BOT_EVENTS = ("bot.status_change", "bot.completed", "bot.failed")
# The fields of bot.completed that hold artifact URLs or recorded content: never stored.
ARTIFACTS = (
    "video",
    "audio",
    "diarization",
    "raw_transcription",
    "transcription",
    "transcription_ids",
    "participants",
    "speakers",
)
CODE_MAX_CHARS = 64
# v1 reports a failure as text in `errors`: a code-like word is taken as its code.
ERROR_CODE = re.compile(r"[A-Z][A-Z0-9_]{2,63}")


def without_artifacts(payload: dict) -> dict:
    """A bot webhook's payload as the portal keeps it: recordings' links and content left out."""
    data = payload.get("data")
    if payload.get("event") != "bot.completed" or not isinstance(data, dict):
        return payload
    return {**payload, "data": {k: v for k, v in data.items() if k not in ARTIFACTS}}


def news_in(event: str, payload: dict, *, sent_at: datetime | None) -> BotNews:
    """The news a v2 bot webhook brings (BadResponse when it is malformed); `sent_at`, the
    Svix time, dates what the payload does not."""
    data = require(payload, "data", dict)
    common = {
        "bot_id": uuid_of(data, "bot_id"),
        "event_id": _optional_uuid(data, "event_id"),
        "meeting_id": meeting_of(payload.get("extra")),
    }
    if event == "bot.status_change":
        status = require(data, "status", dict)
        code = require(status, "code", str)
        return BotNews(
            status=bounded(code, CODE_MAX_CHARS) or "",
            status_at=timestamp(status, "created_at") or sent_at,
            **common,
        )
    if event == "bot.completed":
        exited_at = timestamp(data, "exited_at")
        return BotNews(
            status=BotStatus.COMPLETED,
            status_at=exited_at or timestamp(data, "sent_at") or sent_at,
            joined_at=timestamp(data, "joined_at"),
            exited_at=exited_at,
            duration_seconds=_seconds(data.get("duration_seconds")),
            **common,
        )
    if event == "bot.failed":
        return BotNews(
            status=BotStatus.FAILED,
            status_at=timestamp(data, "sent_at") or sent_at,
            error_code=bounded(data.get("error_code"), CODE_MAX_CHARS) or "",
            error_message=bounded(data.get("error_message")) or "",
            **common,
        )
    raise ValueError(f"{event} is not a bot webhook")


def v2_listed(item: object) -> BotNews:
    """An item of GET /v2/bots."""
    if not isinstance(item, dict):
        raise BadResponse("a bot is not an object")
    status = bounded(require(item, "status", str), CODE_MAX_CHARS) or ""
    ended_at = timestamp(item, "ended_at")
    error_code = bounded(item.get("error_code"), CODE_MAX_CHARS) or ""
    if ended_at is not None and error_code and status != BotStatus.COMPLETED:
        status = BotStatus.FAILED  # ended with an error, whatever its last status says
    return BotNews(
        bot_id=uuid_of(item, "bot_id"),
        status=status,
        status_at=ended_at or timestamp(item, "exited_at"),
        meeting_id=meeting_of(item.get("extra")),
        joined_at=timestamp(item, "joined_at"),
        exited_at=timestamp(item, "exited_at"),
        duration_seconds=_seconds(item.get("duration")),
        error_code=error_code,
        error_message=bounded(item.get("error_message")) or "",
    )


def v1_listed(item: object) -> BotNews:
    """An item of GET /bots/bots_with_metadata (with BotWithParams' `bot_joined_at`,
    `bot_exited_at` and `errors` when given): ended with errors is failed, without, completed."""
    if not isinstance(item, dict):
        raise BadResponse("a bot is not an object")
    ended_at = timestamp(item, "ended_at")
    errors = bounded(item.get("errors")) or ""
    if ended_at is None:
        status = "in_call_recording" if item.get("bot_joined_at") else "queued"
    else:
        status = BotStatus.FAILED if errors else BotStatus.COMPLETED
    code = errors.split(":", 1)[0].strip()
    return BotNews(
        bot_id=uuid_of(item, "uuid"),
        status=status,
        status_at=ended_at,
        meeting_id=meeting_of(item.get("extra")),
        joined_at=timestamp(item, "bot_joined_at"),
        exited_at=timestamp(item, "bot_exited_at") or ended_at,
        duration_seconds=_seconds(item.get("duration")),
        error_code=code if ERROR_CODE.fullmatch(code) else "",
        error_message=errors,
    )


def meeting_of(extra: object) -> int | None:
    """The portal's meeting a bot's `extra` names, if any."""
    if not isinstance(extra, dict):
        return None
    value = str(extra.get(MEETING_KEY) or "")
    return int(value) if value.isdigit() and len(value) < 19 else None


def _optional_uuid(data: dict, key: str) -> UUID | None:
    return uuid_of(data, key) if data.get(key) is not None else None


def _seconds(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if 0 <= value < 2**31 else None
