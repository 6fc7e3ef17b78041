"""The coverage report's counts (`CoverageDay`): each customer's meetings of each day, by what
became of them, and each day's total over every customer.

Why a rollup: the report answers "how did a customer's recordings go last month" and "how did
every customer's" in a few milliseconds over tens of millions of meetings, which no aggregate
of the meetings per request can; it reads at most one row per day instead (a customer's, or
the total's), in one query whatever the number of meetings.

How it stays right: a day is always counted again whole from its meetings (one grouped query),
and its rows replaced in one transaction: never a counter added to, so a count run twice, late
or out of order gives the same rows as the meetings hold. The periodic pass that settles the
outcomes (`settle_meeting_outcomes`, every 5 minutes) counts again the days whose outcomes
still change (today and the days the settling and the bots poll still look at: `OPEN_DAYS`),
and counts once the kept days never counted yet (`BACKFILL_DAYS` a run: a first deployment
fills the history in a few hours). Today's row is therefore at most one pass old.

The rows outlive the meetings: meetings are pruned after MEETINGS_HISTORY_DAYS, so a day whose
meetings may have begun to be pruned is never counted again (`first_countable_day`), and the
report keeps its past.

Days are whole days in TIME_ZONE (23 or 25 hours across a change of the clocks); a meeting
belongs to the day it starts.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

from django.db import IntegrityError, transaction
from django.db.models import BooleanField, Count, ExpressionWrapper, F, Q
from django.utils import timezone

from calendars.meetings.outcomes import SETTLE_DAYS, history_start
from calendars.models import CoverageDay, Meeting

Outcome = Meeting.Outcome
Cause = Meeting.Cause
# Days before today counted again on every pass: outcomes change there still (the settling
# and the bots poll look two days back), and one more for a start late in a day.
OPEN_DAYS = SETTLE_DAYS + 1
# Days of the kept history never counted yet that one pass counts (the oldest first).
BACKFILL_DAYS = 3
# The group of the meetings nobody heard of after they ended (calendars/queries/missed.py).
NO_NEWS = "no_news"
# Outcomes with a bot scheduled (whatever became of it).
WITH_BOT = {
    Outcome.SCHEDULED,
    Outcome.JOINING,
    Outcome.RECORDING,
    Outcome.RECORDED,
    Outcome.BOT_FAILED,
    Outcome.NO_NEWS,
}
# No final word yet.
UNSETTLED = {"", Outcome.SCHEDULED, Outcome.JOINING, Outcome.RECORDING}
# A meeting without a bot for these causes wanted none: the policy does not record it, it
# was cancelled, or a person took its bot away on purpose.
NOT_WANTED = {Cause.POLICY, Cause.CANCELLED, Cause.REMOVED}


def midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def first_countable_day(now: datetime | None = None) -> date:
    """The first day all of whose meetings are still kept (the day after the pruning's edge)."""
    return timezone.localdate(history_start(now)) + timedelta(days=1)


def open_days(now: datetime) -> list[date]:
    today = timezone.localdate(now)
    return [today - timedelta(days=n) for n in range(OPEN_DAYS, -1, -1)]


def count_days(days: Iterable[date], now: datetime | None = None) -> int:
    """Count `days` again from their meetings (those still whole); returns how many."""
    now = now or timezone.now()
    first = first_countable_day(now)
    counted = 0
    for day in sorted(set(days)):
        if day >= first and _count_day(day, now):
            counted += 1
    return counted


def count_pass(now: datetime | None = None) -> int:
    """The periodic pass: the open days again, and the oldest kept days never counted."""
    now = now or timezone.now()
    first = first_countable_day(now)
    today = timezone.localdate(now)
    counted = set(
        CoverageDay.objects.filter(customer=None, day__gte=first).values_list("day", flat=True)
    )
    never = (first + timedelta(days=n) for n in range((today - first).days + 1))
    missing = [day for day in never if day not in counted][:BACKFILL_DAYS]
    return count_days([*open_days(now), *missing], now)


def _count_day(day: date, now: datetime) -> bool:
    """Replace `day`'s rows with its meetings counted now; False if a concurrent count of the
    same day wrote first (its rows are as fresh)."""
    rows = _rows(day, now)
    try:
        with transaction.atomic():
            CoverageDay.objects.filter(day=day).delete()
            CoverageDay.objects.bulk_create(rows, batch_size=2000)
    except IntegrityError:
        return False
    return True


def _rows(day: date, now: datetime) -> list[CoverageDay]:
    ended = ExpressionWrapper(Q(ends_at__lte=now), output_field=BooleanField())
    groups = (
        Meeting.objects.filter(starts_at__gte=midnight(day), starts_at__lt=midnight(next_day(day)))
        .order_by()
        .values("outcome", "outcome_cause", customer=F("integration__credential__customer_id"))
        .annotate(ended=ended, n=Count("pk"))
        .values_list("customer", "outcome", "outcome_cause", "ended", "n")
    )
    by_customer: dict[int | None, Counter] = defaultdict(Counter)
    for customer, outcome, cause, has_ended, n in groups:
        for key in _keys(outcome, cause, bool(has_ended)):
            by_customer[customer][key] += n
            by_customer[None][key] += n
    by_customer.setdefault(None, Counter())
    return [_row(customer, day, counts, now) for customer, counts in by_customer.items()]


def next_day(day: date) -> date:
    return day + timedelta(days=1)


def _keys(outcome: str, cause: str, ended: bool) -> list[str]:
    """The counts a meeting of this outcome, cause and end adds one to."""
    keys = ["meetings"]
    if outcome in WITH_BOT:
        keys.append("scheduled")
    if outcome in WITH_BOT or (outcome == Outcome.NO_BOT and cause not in NOT_WANTED):
        keys.append("wanted")
    if outcome == Outcome.RECORDED:
        keys.append("recorded")
    elif not ended or outcome in UNSETTLED:
        keys.append("pending")
    else:
        keys.append(f"missed:{NO_NEWS if outcome == Outcome.NO_NEWS else cause}")
    return keys


def _row(customer: int | None, day: date, counts: Counter, now: datetime) -> CoverageDay:
    missed = {
        key.removeprefix("missed:"): n for key, n in counts.items() if key.startswith("missed:")
    }
    return CoverageDay(
        customer_id=customer,
        day=day,
        meetings=counts["meetings"],
        wanted=counts["wanted"],
        scheduled=counts["scheduled"],
        recorded=counts["recorded"],
        pending=counts["pending"],
        missed=missed,
        counted_at=now,
    )
