"""The sandbox's meeting bots: scheduled on a calendar event, they join, record and complete, or
fail with a code, at the meeting's times, and the bots lists of both versions report them.

A bot is made when an event gets its bot (either version) and forgotten when it is removed
before its meeting starts. It joins at its event's time and URL, and follows the event when it
moves or its URL changes, but not within CHANGE_DEADLINE of the start. What it will do is
decided by its event id, so tests are stable: one in ten fails (BOT_NOT_ACCEPTED,
MEETING_NOT_FOUND or WAITING_ROOM_TIMEOUT, by turn), the others record the whole meeting.
The control API chooses per bot and can play it at once.

Its story, as v2 webhooks (v1 sends none): `bot.status_change` joining_call at the start,
in_call_recording half a minute later, then `bot.completed` at the end; or joining_call, then
`bot.failed` a minute later. Each carries `bot_id`, `event_id` and the `extra` it was scheduled
with. No recording exists: bot.completed's artifact fields are null.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sandbox.accounts import SandboxError
from sandbox.events import SandboxEvent

FAILURES = {
    "BOT_NOT_ACCEPTED": "The bot was not admitted to the meeting.",
    "MEETING_NOT_FOUND": "The meeting could not be found at its URL.",
    "WAITING_ROOM_TIMEOUT": "The bot waited in the waiting room until its timeout.",
}
# Both specs' window for changing a calendar bot (v2 PATCH: "the join time must be at least 4
# minutes in the future"): closer to its start the bot is on its way and keeps what it has.
CHANGE_DEADLINE = timedelta(minutes=4)
# The code a bot fails with when it joins past the team's daily bot cap (the spec's
# DAILY_BOT_CAP_REACHED: calendar bots are checked as they join, not when scheduled).
CAP_REACHED = "DAILY_BOT_CAP_REACHED"
CAP_REACHED_MESSAGE = "The team's daily bot cap is reached."
# The spec's cap counts the bots of the last 24 hours.
CAP_WINDOW = timedelta(hours=24)
RECORDING_AFTER = timedelta(seconds=30)
FAILING_AFTER = timedelta(minutes=1)
ZERO = timedelta(0)
HURRIED_STEP = timedelta(seconds=1)


def default_plan(event_id: uuid.UUID) -> str:
    """ "completed", or the error code the bot of `event_id` fails with."""
    number = event_id.int
    if number % 10:
        return "completed"
    return list(FAILURES)[(number // 10) % len(FAILURES)]


@dataclass
class SandboxBot:
    id: uuid.UUID
    event: SandboxEvent
    api_version: str
    created_at: datetime
    extra: dict | None
    bot_name: str
    plan: str  # "completed" or an error code
    # When and where it joins: its event's times and URL, followed while the event moves
    # (SandboxState.change_event) but within CHANGE_DEADLINE of the start.
    starts_at: datetime
    ends_at: datetime
    meeting_url: str | None
    error_message: str = ""
    silent: bool = False  # plays without sending its webhooks (a lost webhook)
    status: str = "queued"
    joined_at: datetime | None = None
    exited_at: datetime | None = None
    ended_at: datetime | None = None
    # The statuses of its story not played yet, and those played.
    steps: list[str] = field(default_factory=list)
    played: list[str] = field(default_factory=list)

    @property
    def fails(self) -> bool:
        return self.plan != "completed"

    @property
    def duration(self) -> int | None:
        if self.joined_at is None or self.exited_at is None:
            return None
        return int((self.exited_at - self.joined_at).total_seconds())

    def plan_steps(self) -> None:
        """What is left of its story, given its fate: the statuses not played yet."""
        story = ["joining_call", "failed"] if self.fails else ["joining_call", "in_call_recording"]
        if not self.fails:
            story.append("completed")
        self.steps = [status for status in story if status not in self.played]

    def at(self, status: str) -> datetime:
        """When a step plays: at the meeting's times as the bot holds them (it may have moved)."""
        start, end = self.starts_at, self.ends_at
        later = {"in_call_recording": RECORDING_AFTER, "failed": FAILING_AFTER}
        return end if status == "completed" else min(start + later.get(status, ZERO), end)

    def due(self, moment: datetime, *, hurry: bool = False) -> list[dict]:
        """Play the steps due by `moment` (all of them, `hurry`ing); the webhooks they send."""
        if self.event.status == "cancelled" and not self.played and not hurry:
            return []  # a cancelled meeting's bot never leaves
        sent = []
        while self.steps and (hurry or self.at(self.steps[0]) <= moment):
            # Hurried steps a second apart, the last one now: each news is newer than the last.
            latest = moment - HURRIED_STEP * (len(self.steps) - 1 if hurry else 0)
            status = self.steps.pop(0)
            sent.append(self._play(status, min(self.at(status), latest)))
        return sent

    def _play(self, status: str, at: datetime) -> dict:
        self.status = status
        self.played.append(status)
        if status == "in_call_recording":
            self.joined_at = at
        if status in ("completed", "failed"):
            self.ended_at = at
            if self.joined_at is not None:
                self.exited_at = at
        return webhook(self, status, at)


def webhook(bot: SandboxBot, status: str, at: datetime) -> dict:
    """The v2 webhook a step of `bot`'s story sends (BotWebhook* in the spec)."""
    base = {"bot_id": str(bot.id), "event_id": str(bot.event.id)}
    if status == "completed":
        data = {
            **base,
            "participants": [],
            "speakers": [],
            "duration_seconds": bot.duration,
            "joined_at": iso(bot.joined_at),
            "exited_at": iso(bot.exited_at),
            "data_deleted": False,
            "video": None,
            "audio": None,
            "diarization": None,
            "raw_transcription": None,
            "transcription": None,
            "transcription_provider": None,
            "transcription_ids": None,
            "sent_at": iso(at),
        }
        event = "bot.completed"
    elif status == "failed":
        data = {
            **base,
            "error_code": bot.plan,
            "error_message": bot.error_message,
            "sent_at": iso(at),
        }
        event = "bot.failed"
    else:
        data = {**base, "status": {"code": status, "created_at": iso(at)}}
        event = "bot.status_change"
    return {"event": event, "data": data, "extra": bot.extra}


def iso(moment: datetime | None) -> str | None:
    """As sandbox.state.iso (which imports this module): UTC, milliseconds, "Z"."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def made(event: SandboxEvent, api_version: str, config: dict, moment: datetime) -> SandboxBot:
    """The bot an event gets when it is scheduled."""
    plan = default_plan(event.id)
    bot = SandboxBot(
        id=uuid.uuid4(),
        event=event,
        api_version=api_version,
        created_at=moment,
        extra=config.get("extra") if isinstance(config.get("extra"), dict) else None,
        bot_name=str(config.get("bot_name") or ""),
        plan=plan,
        error_message=FAILURES.get(plan, ""),
        starts_at=event.start,
        ends_at=event.end,
        meeting_url=event.meeting_url,
    )
    bot.plan_steps()
    return bot


def follow(bot: SandboxBot, event: SandboxEvent, was_at: datetime, moment: datetime) -> bool:
    """The bot of an event that just changed takes its new times and URL, as a calendar bot
    joins the event Meeting BaaS holds; within CHANGE_DEADLINE of its start (the old one or
    the new) it is already on its way and keeps the old ones. True when it followed."""
    if bot.status != "queued" or min(was_at, event.start) - moment < CHANGE_DEADLINE:
        return False
    bot.starts_at, bot.ends_at, bot.meeting_url = event.start, event.end, event.meeting_url
    return True


def joined_within(bots: list[SandboxBot], moment: datetime) -> int:
    """How many bots joined in the 24 hours up to `moment` (those refused by the cap did not)."""
    return sum(
        1
        for b in bots
        if "joining_call" in b.played
        and b.plan != CAP_REACHED
        and moment - CAP_WINDOW < b.at("joining_call") <= moment
    )


def refuse_past_the_cap(bot: SandboxBot) -> None:
    """Fail `bot` as Meeting BaaS does one joining past the daily cap."""
    bot.plan, bot.error_message = CAP_REACHED, CAP_REACHED_MESSAGE
    bot.plan_steps()


def choose(bot: SandboxBot, fields: dict) -> None:
    """Apply a control request: {"outcome": "completed" | "failed", "error_code",
    "error_message", "silent"}."""
    outcome = fields.get("outcome")
    if outcome not in (None, "completed", "failed"):
        raise SandboxError(400, "FST_ERR_VALIDATION", "outcome must be completed or failed")
    if outcome == "completed":
        bot.plan, bot.error_message = "completed", ""
    elif outcome == "failed":
        bot.plan = str(fields.get("error_code") or "BOT_NOT_ACCEPTED")
        bot.error_message = str(fields.get("error_message") or FAILURES.get(bot.plan, "Failed."))
    if "silent" in fields:
        bot.silent = bool(fields["silent"])
    if outcome is not None:
        if bot.status in ("completed", "failed"):
            raise SandboxError(409, "FST_ERR_BOT_ENDED", "The bot's story has ended.")
        bot.plan_steps()


def control(bot: SandboxBot) -> dict:
    """A bot as the control API shows it."""
    return {
        "bot_id": str(bot.id),
        "event_id": str(bot.event.id),
        "api_version": bot.api_version,
        "status": bot.status,
        "outcome": bot.plan,
        "silent": bot.silent,
        "extra": bot.extra,
        "join_at": iso(bot.starts_at),
        "meeting_url": bot.meeting_url,
        "created_at": iso(bot.created_at),
        "joined_at": iso(bot.joined_at),
        "exited_at": iso(bot.exited_at),
        "ended_at": iso(bot.ended_at),
        "next_steps": [{"at": iso(bot.at(status)), "status": status} for status in bot.steps],
    }


def v2_item(bot: SandboxBot) -> dict:
    """A bot as GET /v2/bots lists it."""
    failed = bot.status == "failed"
    return {
        "bot_id": str(bot.id),
        "bot_name": bot.bot_name,
        "meeting_url": bot.meeting_url or "",
        "meeting_platform": bot.event.meeting_platform or "meet",
        "extra": bot.extra,
        "duration": bot.duration,
        "created_at": iso(bot.created_at),
        "ended_at": iso(bot.ended_at),
        "joined_at": iso(bot.joined_at),
        "exited_at": iso(bot.exited_at),
        "status": bot.status,
        "error_code": bot.plan if failed else None,
        "error_message": bot.error_message if failed else None,
        "tokens": None,
    }


def v1_item(bot: SandboxBot, number: int) -> dict:
    """A bot as GET /bots/bots_with_metadata lists it (RecentBotEntry, with BotWithParams'
    `bot_joined_at`, `bot_exited_at` and `errors`; v1's event ids are numbers the portal never
    sees, so `event_id` is null)."""
    failed = bot.status == "failed"
    return {
        "id": number,
        "uuid": str(bot.id),
        "bot_name": bot.bot_name,
        "meeting_url": bot.meeting_url or "",
        "created_at": iso(bot.created_at),
        "ended_at": iso(bot.ended_at),
        "duration": bot.duration,
        "extra": bot.extra or {},
        "speakers": [],
        "session_id": None,
        "access_count": None,
        "last_accessed_at": None,
        "bot_joined_at": iso(bot.joined_at),
        "bot_exited_at": iso(bot.exited_at),
        "errors": f"{bot.plan}: {bot.error_message}" if failed else None,
        "event_id": None,
    }
