"""The coverage report: a customer's meetings (or every customer's) over a range of days, per
day and per week: in the calendars, wanting a bot, bots scheduled, recorded, missed by cause,
and the rate recorded / wanted.

Read-only, from the daily counts (`CoverageDay`, kept by calendars/meetings/coverage.py): one
query of at most one row per day, whatever the number of meetings. Days are TIME_ZONE's; weeks
begin on Monday, and a week cut by the range's edge counts only its days in the range.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from calendars.meetings.coverage import NOT_WANTED
from calendars.models import CoverageDay
from calendars.queries.missed import CAUSES

# The longest range one page reads: a year (a leap year's) and a day.
MAX_DAYS = 367


@dataclass(frozen=True)
class Range:
    first: date
    last: date

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]


def last_full_month(now: datetime | None = None) -> Range:
    """The default range: the calendar month before this one (in TIME_ZONE)."""
    first_of_this = timezone.localdate(now or timezone.now()).replace(day=1)
    last = first_of_this - timedelta(days=1)
    return Range(last.replace(day=1), last)


@dataclass
class Counts:
    """A period's counts (a day, a week, the range)."""

    first: date
    last: date
    meetings: int = 0
    wanted: int = 0
    scheduled: int = 0
    recorded: int = 0
    pending: int = 0
    missed: Counter = field(default_factory=Counter)
    # Days of the period with no count yet (not counted since the deployment, or in the future).
    uncounted: int = 0

    def add(self, row: CoverageDay) -> None:
        self.meetings += row.meetings
        self.wanted += row.wanted
        self.scheduled += row.scheduled
        self.recorded += row.recorded
        self.pending += row.pending
        self.missed.update(row.missed)

    def merge(self, other: Counts) -> None:
        for name in ("meetings", "wanted", "scheduled", "recorded", "pending", "uncounted"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.missed.update(other.missed)

    @property
    def missed_total(self) -> int:
        return sum(self.missed.values())

    @property
    def missed_wanted(self) -> int:
        """Meetings that wanted a bot and ended without a recording."""
        return sum(n for cause, n in self.missed.items() if cause not in NOT_WANTED)

    @property
    def rate(self) -> float | None:
        """Recorded / wanted (None when nothing was wanted)."""
        return self.recorded / self.wanted if self.wanted else None

    def rate_words(self) -> str:
        return "—" if self.rate is None else f"{self.rate:.1%}"


@dataclass(frozen=True)
class Report:
    range: Range
    days: list[Counts]
    weeks: list[Counts]
    total: Counts
    # The causes present in the range, in the missed meetings view's order, with their labels.
    causes: dict[str, str]
    counted_at: datetime | None


def report(asked: Range, customer_id: int | None = None) -> Report:
    """`customer_id`'s coverage over `asked` (every customer's when None), in one query."""
    # Every day counted has a total row; a customer's is missing when it had no meeting that
    # day (a zero, not a gap): the totals tell which days were counted.
    whose = Q(customer=None) | Q(customer_id=customer_id) if customer_id else Q(customer=None)
    rows: dict[date, CoverageDay] = {}
    counted: set[date] = set()
    for row in CoverageDay.objects.filter(whose, day__gte=asked.first, day__lte=asked.last):
        if row.customer_id is None:
            counted.add(row.day)
        if row.customer_id == customer_id:
            rows[row.day] = row
    days = [_day(day, rows.get(day), day in counted) for day in asked.days]
    total = _sum(days, asked.first, asked.last)
    present = set(total.missed)
    return Report(
        range=asked,
        days=days,
        weeks=weeks_of(days),
        total=total,
        causes={cause: label for cause, label in CAUSES.items() if cause in present},
        counted_at=max((row.counted_at for row in rows.values()), default=None),
    )


def _day(day: date, row: CoverageDay | None, counted: bool) -> Counts:
    counts = Counts(day, day, uncounted=0 if counted else 1)
    if row is not None:
        counts.add(row)
    return counts


def _sum(periods: Iterable[Counts], first: date, last: date) -> Counts:
    total = Counts(first, last)
    for period in periods:
        total.merge(period)
    return total


def weeks_of(days: list[Counts]) -> list[Counts]:
    """`days` summed per week (Monday to Sunday), a week cut by the range's edge to its days."""
    weeks: list[Counts] = []
    for day in days:
        if not weeks or day.first.weekday() == 0:
            weeks.append(Counts(day.first, day.first))
        weeks[-1].merge(day)
        weeks[-1].last = day.first
    return weeks
