"""Missed meetings: those that ended without a recording over a range of days, by cause.

Read-only. The meetings are found by their stored outcome (`calendars/meetings/outcomes.py`)
through the (outcome, starts_at) index (covering the cause and the end on PostgreSQL): the
counts by cause are one grouped query, the rows one capped query, whatever the number of
meetings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from calendars.meetings.outcomes import FIXES, MISSED
from calendars.models import Meeting

# The group of meetings nobody heard of after they ended (outcome "no news", no cause).
NO_NEWS = "no_news"
# Every cause a missed meeting is grouped under, in the order the view lists them: what
# support can fix first.
CAUSES: dict[str, str] = {
    Meeting.Cause.CALENDAR_BROKEN: Meeting.Cause.CALENDAR_BROKEN.label,
    Meeting.Cause.BOT_ERROR: Meeting.Cause.BOT_ERROR.label,
    Meeting.Cause.REFUSED: Meeting.Cause.REFUSED.label,
    Meeting.Cause.NO_URL: Meeting.Cause.NO_URL.label,
    Meeting.Cause.NOT_ASKED: Meeting.Cause.NOT_ASKED.label,
    Meeting.Cause.POLICY: Meeting.Cause.POLICY.label,
    Meeting.Cause.REMOVED: Meeting.Cause.REMOVED.label,
    NO_NEWS: "Nothing heard from Meeting BaaS yet",
    Meeting.Cause.CANCELLED: Meeting.Cause.CANCELLED.label,
}
# The longest range one page reads: its counts stay one index range of bounded size.
MAX_DAYS = 31


@dataclass(frozen=True)
class Days:
    """A range of whole days in the current time zone, `first` to `last` included."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        return _midnight(self.first)

    @property
    def end(self) -> datetime:
        return _midnight(self.last + timedelta(days=1))


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def yesterday_and_today(now: datetime | None = None) -> Days:
    today = timezone.localdate(now or timezone.now())
    return Days(today - timedelta(days=1), today)


def yesterday(now: datetime | None = None) -> Days:
    day = timezone.localdate(now or timezone.now()) - timedelta(days=1)
    return Days(day, day)


@dataclass(frozen=True)
class Filters:
    days: Days
    customer_ids: list[int] | QuerySet | None = None
    cause: str = ""
    platform: str = ""


def cause_condition(cause: str) -> Q:
    if cause == NO_NEWS:
        return Q(outcome=Meeting.Outcome.NO_NEWS)
    return Q(outcome_cause=cause)


def condition(days: Days, cause: str = "", now: datetime | None = None) -> Q:
    """Meetings that began in `days` and ended without a recording (for `cause`)."""
    found = Q(
        outcome__in=MISSED,
        starts_at__gte=days.start,
        starts_at__lt=days.end,
        ends_at__lte=now or timezone.now(),
    )
    return found & cause_condition(cause) if cause else found


def missed(filters: Filters, now: datetime | None = None) -> QuerySet[Meeting]:
    """The meetings of the range that ended without a recording, as filtered."""
    meetings = Meeting.objects.filter(condition(filters.days, now=now))
    if filters.customer_ids is not None:
        meetings = meetings.filter(integration__credential__customer_id__in=filters.customer_ids)
    if filters.cause:
        meetings = meetings.filter(cause_condition(filters.cause))
    if filters.platform:
        meetings = meetings.filter(platform=filters.platform)
    return meetings


@dataclass(frozen=True)
class Group:
    cause: str
    label: str
    count: int
    fix: str


def by_cause(meetings: QuerySet[Meeting]) -> list[Group]:
    """`meetings` counted by cause (one query), in CAUSES' order, the empty ones left out."""
    counts: dict[str, int] = {}
    # COUNT(*), not of the id: the index holds what is counted, not the ids.
    for row in meetings.order_by().values("outcome", "outcome_cause").annotate(n=Count("*")):
        cause = NO_NEWS if row["outcome"] == Meeting.Outcome.NO_NEWS else row["outcome_cause"]
        counts[cause] = counts.get(cause, 0) + row["n"]
    return [
        Group(cause, label, counts[cause], FIXES[cause if cause != NO_NEWS else ""])
        for cause, label in CAUSES.items()
        if counts.get(cause)
    ]


def count_missed(days: Days, now: datetime | None = None) -> int:
    """How many meetings of `days` ended without a recording (the home page's lane)."""
    return missed(Filters(days), now).count()
