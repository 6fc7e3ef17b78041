"""The plan's daily bot cap (MEETINGBAAS_BOTS_PER_DAY) against the bots scheduled ahead.

Meeting BaaS checks a calendar bot against the cap when the bot joins, not when it is
scheduled: past the cap, the bot fails at the meeting's start. Its spec counts "bots created in
the last 24 hours"; the portal counts per UTC day (Meeting BaaS's timestamps and its plans'
days are UTC), so a day over the cap is certain trouble, and the meetings it would cut are that
day's bots past the cap, in start order (the later ones join after the cap is used up). A busy
evening followed by a busy morning can still pass the rolling count on two days each under the
cap: the page says so.

Counted: meetings with a bot scheduled, not cancelled, from the start of today (UTC: today's
bots that already joined count) to the end of the mirrored window (MEETINGS_WINDOW_DAYS).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db.models import Count, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from calendars.lib.union import read_each
from calendars.models import Meeting

# Meetings named per day over the cap at most (a day thousands over lists its first ones).
CUT_LISTED = 100


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
class OverDay:
    day: date
    bots: int
    # The meetings whose bots come past the cap that day, in start order (CUT_LISTED at most).
    cut: list[Meeting]

    @property
    def over_by(self) -> int:
        return self.bots - cap()


def over_the_cap(now: datetime | None = None) -> list[OverDay]:
    """The days ahead with more bots than the plan allows, each with the meetings it would cut:
    one grouped count, then one read (UNION ALL) of the days over it."""
    limit = cap()
    if not limit:
        return []
    first = today(now)
    last = first + timedelta(days=settings.MEETINGS_WINDOW_DAYS)
    per_day = (
        bots(first, last)
        .annotate(day=TruncDate("starts_at", tzinfo=UTC))
        .values_list("day")
        .annotate(n=Count("pk"))
        .order_by("day")
    )
    over = [(day, n) for day, n in per_day if n > limit]
    if not over:
        return []
    parts = [
        bots(day, day).order_by("starts_at", "pk").values_list("pk")[limit : limit + CUT_LISTED]
        for day, _ in over
    ]
    cut_ids = [[pk for (pk,) in rows] for rows in read_each(parts)]
    meetings = Meeting.objects.select_related("integration__credential__customer").in_bulk(
        [pk for ids in cut_ids for pk in ids]
    )
    return [
        OverDay(day, n, [meetings[pk] for pk in ids if pk in meetings])
        for (day, n), ids in zip(over, cut_ids, strict=True)
    ]
