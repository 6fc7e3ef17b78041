"""The plan's daily bot cap (MEETINGBAAS_BOTS_PER_DAY) against the bots scheduled ahead.

Meeting BaaS checks a calendar bot against the cap when the bot joins, not when it is
scheduled: past the cap, the bot fails at the meeting's start. Its spec counts "bots created in
the last 24 hours"; the portal counts per UTC day (Meeting BaaS's timestamps and its plans'
days are UTC), so a day over the cap is certain trouble, and the meetings it would cut are that
day's bots past the cap, in start order (the later ones join after the cap is used up). A busy
evening followed by a busy morning can still pass the rolling count on two days each under the
cap: the page says so.

Counted: meetings with a bot scheduled, not cancelled, from the start of today (UTC: today's
bots that already joined count) to the end of the week ahead (DAYS_AHEAD).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from calendars.lib.union import read_each
from calendars.models import Meeting

# Meetings past the cap read (and named) per day at most: a day thousands over lists its first
# ones and says "more than" (a page of hundreds of rows costs more to render than to find).
CUT_LISTED = 20
# Days looked at after today: each costs up to the cap's worth of index rows.
DAYS_AHEAD = 7


def cap() -> int:
    """The plan's bots a day (0: not set, none known)."""
    return settings.MEETINGBAAS_BOTS_PER_DAY


def utc_day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def today(now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(UTC).date()


def bots(first: date, last: date) -> QuerySet[Meeting]:
    """The bots Meeting BaaS will send to meetings of the UTC days `first` to `last`."""
    return Meeting.objects.filter(
        has_bot=True,
        is_cancelled=False,
        starts_at__gte=utc_day_start(first),
        starts_at__lt=utc_day_start(last + timedelta(days=1)),
    )


def tomorrows_bots(now: datetime | None = None) -> int:
    """How many bots are scheduled for tomorrow's meetings (the UTC day): one indexed count."""
    tomorrow = today(now) + timedelta(days=1)
    return bots(tomorrow, tomorrow).count()


@dataclass(frozen=True)
class CutMeeting:
    """A meeting whose bot comes past the cap: what the page names of it."""

    pk: int
    title: str
    starts_at: datetime
    customer: str


@dataclass(frozen=True)
class OverDay:
    day: date
    # The meetings whose bots come past the cap that day, in start order (CUT_LISTED at most).
    cut: list[CutMeeting]
    # More than CUT_LISTED are past it.
    more: bool


def over_the_cap(now: datetime | None = None) -> list[OverDay]:
    """The days ahead with more bots than the plan allows, each with the meetings it would cut,
    in one query (UNION ALL): per day, the bots past the cap, read in start order through the
    (has_bot, starts_at) index, so a day costs the cap's worth of index rows, not a count of
    all of them (a GROUP BY over the window took half a second at 60,000 bots)."""
    limit = cap()
    if not limit:
        return []
    first = today(now)
    days = [first + timedelta(days=n) for n in range(DAYS_AHEAD + 1)]
    parts = [
        bots(day, day).order_by("starts_at", "pk").values_list("pk")[limit : limit + CUT_LISTED + 1]
        for day in days
    ]
    read = [[pk for (pk,) in rows] for rows in read_each(parts)]
    # Only what the page names: loading whole meetings with their customers cost more than
    # finding them.
    named = Meeting.objects.filter(pk__in=[pk for ids in read for pk in ids[:CUT_LISTED]])
    meetings = {
        pk: CutMeeting(pk, title or f"Meeting {event_id}", starts_at, customer)
        for pk, title, event_id, starts_at, customer in named.values_list(
            "pk", "title", "remote_event_id", "starts_at", "integration__credential__customer__name"
        )
    }
    return [
        OverDay(
            day, [meetings[pk] for pk in ids[:CUT_LISTED] if pk in meetings], len(ids) > CUT_LISTED
        )
        for day, ids in zip(days, read, strict=True)
        if ids
    ]
