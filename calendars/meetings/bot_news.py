"""What Meeting BaaS says of the meetings' bots, written on the meetings: the v2 bot webhooks,
and a poll of the bots list for the meetings that ended without a final word (v1 sends no bot
webhooks; a v2 one may be lost).

A bot is matched to its meeting by the calendar event id, else by the meeting id the portal
puts in every bot's `extra`, else by the bot id once learned. News is applied safe out of
order: a final word (completed, failed) is never undone by a status, and a status older than
the one held is ignored. Only the bot_* fields are written: what they mean for the meeting's
outcome is decided elsewhere.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from calendars.lib.bulk_update import update_rows
from calendars.lib.remote_values import fit, no_later_than_now
from calendars.meetingbaas import client
from calendars.meetingbaas.errors import MeetingBaasError
from calendars.meetingbaas.types import ApiVersion, BotNews, BotStatus
from calendars.meetings import outcomes
from calendars.models import Meeting
from calendars.status import is_older

logger = logging.getLogger(__name__)

APPLIED, STALE, UNKNOWN = "applied", "stale", "unknown"
FINAL = (BotStatus.COMPLETED, BotStatus.FAILED)
# Statuses that say the bot is in the meeting: the first one heard dates its joining.
IN_CALL = ("in_call_not_recording", "in_call_recording", "recording_paused", "recording_resumed")
# The poll leaves a meeting that ended this recently to its webhook.
POLL_GRACE = timedelta(minutes=10)
# Meetings that ended longer ago than this are not asked about any more.
POLL_LOOKBACK = timedelta(days=2)
# A bot may end before its meeting starts (a wrong URL, joined early and refused).
POLL_MARGIN = timedelta(hours=1)
# At most this many meetings and pages per API version and run; the next run goes on.
POLL_MEETINGS = 5000
POLL_PAGES = 20


def apply(news: BotNews, *, api_version: str) -> tuple[str, Meeting | None]:
    """Write `news` on its meeting (run inside a transaction); `applied`, `stale`, or `unknown`
    when no meeting of `api_version` is known for the bot."""
    (result,) = apply_all([news], api_version=api_version)
    return result


def apply_all(news: list[BotNews], *, api_version: str) -> list[tuple[str, Meeting | None]]:
    """Write each of `news`, in order, on its meeting (run inside a transaction), as `apply`
    would one after the other, in a fixed number of statements: the meetings read and locked
    at once, each changed meeting written once, their outcomes judged together."""
    meetings = _Meetings(news, api_version)
    results: list[tuple[str, Meeting | None]] = []
    changed: dict[int, Meeting] = {}
    for one in news:
        meeting = meetings.of(one)
        if meeting is None:
            results.append((UNKNOWN, None))
            continue
        changes = _changes(meeting, one)
        if changes is None:
            results.append((STALE, meeting))
            continue
        meetings.learn(meeting, changes)
        changed[meeting.pk] = meeting
        results.append((APPLIED, meeting))
    update_rows(list(changed.values()), BOT_FIELDS)
    # The outcome follows the news at once (joining, recording, recorded, bot failed).
    outcomes.refresh(changed)
    return results


# The columns news writes.
BOT_FIELDS = [
    "bot_id",
    "bot_status",
    "bot_status_at",
    "bot_joined_at",
    "bot_exited_at",
    "bot_duration_seconds",
    "bot_error_code",
    "bot_error_message",
]


class _Meetings:
    """The meetings some news may be about, read and locked in one query; each news' meeting
    is found among them as one query per news would find it in the database."""

    def __init__(self, news: list[BotNews], api_version: str) -> None:
        event_ids = {one.event_id for one in news if one.event_id is not None}
        meeting_ids = {one.meeting_id for one in news if one.meeting_id is not None}
        bot_ids = {one.bot_id for one in news}
        # Only the bot_* columns are read and written: the rows are locked, not their
        # integrations; in the order of their ids, so that two batches never wait on each other.
        found = list(
            Meeting.objects.select_for_update(of=("self",))
            .filter(integration__api_version=api_version)
            .filter(
                Q(remote_event_id__in=event_ids) | Q(pk__in=meeting_ids) | Q(bot_id__in=bot_ids)
            )
            .order_by("pk")
        )
        self.by_pk = {meeting.pk: meeting for meeting in found}
        self.by_event: dict[object, list[Meeting]] = {}
        self.by_bot: dict[object, list[Meeting]] = {}
        for meeting in reversed(found):  # the newest first, as the query by event orders them
            self.by_event.setdefault(meeting.remote_event_id, []).append(meeting)
            if meeting.bot_id is not None:
                self.by_bot.setdefault(meeting.bot_id, []).append(meeting)

    def of(self, news: BotNews) -> Meeting | None:
        if news.event_id is not None:
            # A meeting in several calendars is one event id per calendar: its own extra decides.
            found = self.by_event.get(news.event_id)
            if found:
                return next((m for m in found if m.pk == news.meeting_id), found[0])
        if news.meeting_id is not None:
            meeting = self.by_pk.get(news.meeting_id)
            if meeting is not None:
                return meeting
        held = [m for m in self.by_bot.get(news.bot_id, ()) if m.bot_id == news.bot_id]
        return min(held, key=lambda m: (m.starts_at, m.pk), default=None)

    def learn(self, meeting: Meeting, changes: dict) -> None:
        """Hold `changes` on `meeting` for the news that follows (its bot id included)."""
        for name, value in changes.items():
            setattr(meeting, name, value)
        known = self.by_bot.setdefault(meeting.bot_id, [])
        if meeting not in known:
            known.append(meeting)


def _changes(held: Meeting, news: BotNews) -> dict | None:
    """The columns `news` sets on `held`, or None when what is held is newer or final."""
    held_final = held.bot_status in FINAL
    if held_final and not news.is_final:
        return None
    status_at = no_later_than_now(news.status_at)
    if is_older(status_at, held.bot_status_at):
        return None
    changes: dict = {
        "bot_id": news.bot_id,
        "bot_status": fit(Meeting, "bot_status", news.status),
        "bot_status_at": status_at or held.bot_status_at,
    }
    if news.joined_at is not None:
        changes["bot_joined_at"] = news.joined_at
    elif news.status in IN_CALL and held.bot_joined_at is None:
        changes["bot_joined_at"] = status_at
    if news.exited_at is not None:
        changes["bot_exited_at"] = news.exited_at
    if news.duration_seconds is not None:
        changes["bot_duration_seconds"] = news.duration_seconds
    if news.status == BotStatus.FAILED:
        changes["bot_error_code"] = fit(Meeting, "bot_error_code", news.error_code)
        changes["bot_error_message"] = fit(Meeting, "bot_error_message", news.error_message)
    elif news.status == BotStatus.COMPLETED:
        changes["bot_error_code"] = changes["bot_error_message"] = ""
    return changes


@dataclass
class Polled:
    """What a poll did: meetings it asked about, calls made, news applied, and why it stopped
    early (an API error), if it did."""

    waiting: int = 0
    calls: int = 0
    applied: int = 0
    error: str = ""


def waiting_for_news(now: datetime | None = None) -> QuerySet[Meeting]:
    """Meetings that ended (a while ago, not too long ago) with a bot and no final word of it."""
    now = now or timezone.now()
    since = now - POLL_LOOKBACK
    return (
        Meeting.objects.filter(
            starts_at__gte=since - POLL_MARGIN,
            ends_at__gte=since,
            ends_at__lte=now - POLL_GRACE,
            is_cancelled=False,
        )
        .filter(Q(has_bot=True) | Q(bot_id__isnull=False))
        .exclude(bot_status__in=FINAL)
    )


def poll() -> Polled:
    """Ask each API version's bots list about the meetings waiting for news (bounded: pages of
    bots that ended since the oldest such meeting began) and apply what it says."""
    polled = Polled()
    for api_version in ApiVersion:
        try:
            _poll_version(api_version, polled)
        except MeetingBaasError as exc:
            polled.error = f"API {api_version}: {exc}"
            logger.warning("bot poll stopped: %s", polled.error)
    return polled


def _poll_version(api_version: ApiVersion, polled: Polled) -> None:
    rows = list(
        waiting_for_news()
        .filter(integration__api_version=api_version)
        .order_by("starts_at", "pk")
        .values_list("pk", "bot_id", "starts_at")[:POLL_MEETINGS]
    )
    if not rows:
        return
    polled.waiting += len(rows)
    remaining = {pk for pk, _, _ in rows}
    by_bot = {bot_id: pk for pk, bot_id, _ in rows if bot_id is not None}
    api = client(api_version)
    ended_after = rows[0][2] - POLL_MARGIN
    cursor = None
    for _ in range(POLL_PAGES):
        page = api.list_bots(ended_after=ended_after, cursor=cursor)
        polled.calls += 1
        for news in page.bots:
            pk = by_bot.get(news.bot_id, news.meeting_id)
            if news.is_final and pk in remaining:
                with transaction.atomic():
                    # Lists carry no event id: the meeting is the one matched here.
                    outcome, _ = apply(replace(news, meeting_id=pk), api_version=api_version)
                polled.applied += outcome == APPLIED
                remaining.discard(pk)
        cursor = page.next_cursor
        if not cursor or not remaining:
            return
