"""Meetings at risk in the next AT_RISK_HOURS: read-only, for the morning view and the home page.

A meeting is at risk when no bot is likely to join it: its calendar connection is not active;
the customer's policy records every meeting but it has no bot (or scheduling its bot failed,
or someone's scheduling did); it moved or changed its URL too close to its start for Meeting
BaaS to change its bot (calendars/meetings/follow.py); it has no meeting URL under that policy;
or Meeting BaaS last synced its calendar longer ago than MEETINGS_SYNC_STALE_HOURS, so it may
have changed since.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.formats import date_format

from calendars import queue
from calendars.lib.durations import duration_words
from calendars.lib.union import read_each
from calendars.meetings.bots import LOST_ASKS_HOURS
from calendars.models import BotPolicy, Integration, Meeting
from calendars.status import PortalStatus

RECORD_ALL = BotPolicy.Mode.RECORD_ALL
# Meetings read per rule at most, soonest first: past this many, the counts say "at least".
# The morning view lists as many; each one read costs the rows walked to find it, a few
# lookups each, so a count of thousands would cost the page its speed.
COUNTED = 100


class Rule(enum.StrEnum):
    """Why a meeting is at risk, in the order the view lists the reasons."""

    NOT_ACTIVE = "not_active"
    CHANGED_TOO_LATE = "changed_too_late"
    BOT_FAILED = "bot_failed"
    NO_BOT = "no_bot"
    NO_URL = "no_url"
    STALE_SYNC = "stale_sync"


LABELS = {
    Rule.NOT_ACTIVE: "calendar connection not active",
    Rule.CHANGED_TOO_LATE: "changed too late",
    Rule.BOT_FAILED: "bot scheduling failed",
    Rule.NO_BOT: "no bot although the policy records every meeting",
    Rule.NO_URL: "no meeting URL",
    Rule.STALE_SYNC: "calendar not synced lately",
}
# Where each rule's fix is: the meeting's page (its bot actions) or its integration's.
FIX_ON = {
    Rule.NOT_ACTIVE: "integration",
    Rule.CHANGED_TOO_LATE: "meeting",
    Rule.BOT_FAILED: "meeting",
    Rule.NO_BOT: "meeting",
    Rule.NO_URL: "meeting",
    Rule.STALE_SYNC: "integration",
}


# A calendar connection's status, as a person would say it.
CONNECTION_IS = {
    PortalStatus.SYNCING: "is still syncing for the first time",
    PortalStatus.ERROR: "is in error",
    PortalStatus.DISCONNECTED: "is disconnected",
}


@dataclass(frozen=True)
class Reason:
    rule: Rule
    words: str

    @property
    def fix_on(self) -> str:
        return FIX_ON[self.rule]


@dataclass(frozen=True)
class Horizon:
    now: datetime
    until: datetime
    stale_before: datetime


def horizon(now: datetime | None = None) -> Horizon:
    now = now or timezone.now()
    return Horizon(
        now=now,
        until=now + timedelta(hours=settings.AT_RISK_HOURS),
        stale_before=now - timedelta(hours=settings.MEETINGS_SYNC_STALE_HOURS),
    )


def conditions(h: Horizon) -> dict[Rule, Q]:
    """Each rule as a filter on meetings (the soon, not cancelled ones)."""
    records_all = Q(integration__credential__customer__bot_policy__mode=RECORD_ALL)
    has_url = ~Q(meeting_url="")
    failed = Q(has_bot=False) & ~Q(bot_failure="")
    # Not a meeting the recording rules or a person's override leave without a bot.
    ruled_in = Q(rule_reason="") & ~Q(bot_override=Meeting.Override.NEVER)
    return {
        Rule.NOT_ACTIVE: ~Q(integration__status=PortalStatus.ACTIVE),
        Rule.CHANGED_TOO_LATE: Q(bot_changed_late_at__isnull=False),
        Rule.BOT_FAILED: failed & (has_url | ~records_all),
        # A copy covered by another calendar's bot of the same meeting is not at risk.
        Rule.NO_BOT: records_all
        & has_url
        & ruled_in
        & Q(has_bot=False, bot_failure="")
        & ~Q(outcome=Meeting.Outcome.COVERED),
        Rule.NO_URL: records_all & Q(meeting_url="", has_bot=False),
        Rule.STALE_SYNC: Q(integration__synced_at__lt=h.stale_before),
    }


def soon(h: Horizon) -> QuerySet[Meeting]:
    """The meetings of the coming hours, but those of a calendar connection a newer one of the
    same calendar replaced (a recreate): the new one's copies speak for them."""
    replaced = Integration.objects.filter(
        raw_calendar_id=OuterRef("integration__raw_calendar_id"), pk__gt=OuterRef("integration_id")
    )
    return Meeting.objects.filter(
        starts_at__gte=h.now, starts_at__lte=h.until, is_cancelled=False
    ).exclude(Exists(replaced))


@dataclass(frozen=True)
class Found:
    """The meetings at risk as far as they were read, soonest first."""

    # The ids of the meetings at risk found, soonest first.
    ids: list[int]
    # How many of them each rule is the first reason of (a meeting may have several): these
    # add up to the total.
    by_rule: dict[Rule, int]
    # The rules with more meetings than were read: the total is then a lower bound ("at
    # least"), the meetings found all those starting before the first one left unread.
    capped: frozenset[Rule]

    @property
    def total(self) -> int:
        return len(self.ids)

    @property
    def counted_all(self) -> bool:
        return not self.capped


def find(h: Horizon | None = None) -> Found:
    """The meetings at risk: one read per rule, each soonest first through an index that fits
    it and stopped at COUNTED, all in one query (UNION ALL), merged here.

    A rule read to its cap holds every one of its meetings up to the last one read; past the
    earliest such meeting another capped rule may hold more unread, so the merge stops there:
    what it holds is then exactly every meeting at risk up to that point, each counted once,
    under its first reason, rather than every meeting of the coming hours.
    """
    h = h or horizon()
    starts: dict[int, datetime] = {}
    first_reason: dict[int, Rule] = {}
    capped: set[Rule] = set()
    last_read: list[tuple[datetime, int]] = []
    rules = conditions(h)
    parts = [
        soon(h).filter(condition).order_by("starts_at", "pk").values_list("pk", "starts_at")
        for condition in rules.values()
    ]
    for rule, read in zip(rules, read_each([part[: COUNTED + 1] for part in parts]), strict=True):
        if len(read) > COUNTED:
            read = read[:COUNTED]
            capped.add(rule)
            last_read.append((read[-1][1], read[-1][0]))
        for pk, starts_at in read:
            starts[pk] = starts_at
            first_reason.setdefault(pk, rule)
    ids = sorted(starts, key=lambda pk: (starts[pk], pk))
    if last_read:
        cut = min(last_read)
        ids = [pk for pk in ids if (starts[pk], pk) <= cut]
    by_rule = dict.fromkeys(Rule, 0)
    for pk in ids:
        by_rule[first_reason[pk]] += 1
    return Found(ids, by_rule, frozenset(capped))


def at_risk(ids: list[int]) -> list[Meeting]:
    """The meetings of `ids` in that order, with what their reasons need to be worded."""
    meetings = (
        Meeting.objects.filter(pk__in=ids)
        .select_related("integration__credential__customer", "integration__raw_calendar")
        .annotate(policy_mode=F("integration__credential__customer__bot_policy__mode"))
        .in_bulk()
    )
    return [meetings[pk] for pk in ids if pk in meetings]


def summary(found: Found) -> list[tuple[str, str]]:
    """The meetings found by their first reason, as (label, how many), in the rules' order:
    the numbers add up to the total."""
    return [
        (label, str(found.by_rule[rule])) for rule, label in LABELS.items() if found.by_rule[rule]
    ]


def reasons(meeting: Meeting, h: Horizon) -> list[Reason]:
    """Why `meeting` (from `at_risk`) is at risk, in plain words."""
    integration = meeting.integration
    records_all = getattr(meeting, "policy_mode", None) == RECORD_ALL
    found = []
    if integration.status != PortalStatus.ACTIVE:
        found.append(
            Reason(
                Rule.NOT_ACTIVE,
                f"Its calendar connection {CONNECTION_IS.get(integration.status, 'is not active')}"
                ": Meeting BaaS cannot send a bot until the connection is active again.",
            )
        )
    if meeting.bot_changed_late_at is not None:
        found.append(_changed_too_late(meeting))
    if not meeting.has_bot and meeting.bot_failure and (meeting.meeting_url or not records_all):
        found.append(Reason(Rule.BOT_FAILED, f"Scheduling its bot failed: {meeting.bot_failure}"))
    elif records_all and not meeting.has_bot and meeting.meeting_url and _ruled_in(meeting):
        found.append(
            Reason(
                Rule.NO_BOT,
                "The customer's policy records every meeting, but no bot is scheduled on it.",
            )
        )
    if records_all and not meeting.has_bot and not meeting.meeting_url:
        found.append(
            Reason(
                Rule.NO_URL,
                "It has no meeting URL, so no bot can join: ask its organizer"
                f"{_organizer(meeting)} to add a video link.",
            )
        )
    synced = integration.synced_at
    if synced is not None and synced < h.stale_before:
        found.append(
            Reason(
                Rule.STALE_SYNC,
                f"Meeting BaaS last synced its calendar {duration_words(h.now - synced)} ago: "
                "the meeting may have moved or gained a bot since. Resync the calendar.",
            )
        )
    return found


def _changed_too_late(meeting: Meeting) -> Reason:
    before = duration_words(max(meeting.starts_at - meeting.bot_changed_late_at, timedelta(0)))
    return Reason(
        Rule.CHANGED_TOO_LATE,
        f"It moved, or its meeting URL changed, {before} before its start: too late for Meeting "
        "BaaS to change its bot (no bot changes within 4 minutes of joining), so the bot may "
        "join at the old time or URL. On the meeting's page, remove its bot and schedule it "
        "again (a new bot takes the meeting's time and URL as they are now), and tell the "
        f"organizer{_organizer(meeting)} the recording may be missed.",
    )


def _organizer(meeting: Meeting) -> str:
    return f" ({meeting.organizer_email})" if meeting.organizer_email else ""


def why_no_bot(meeting: Meeting, mode: str, now: datetime | None = None) -> str:
    """Why `meeting` has no bot yet, in plain words, and what gets it one ("" with a bot)."""
    now = now or timezone.now()
    if meeting.has_bot:
        return ""
    if meeting.is_cancelled:
        return "The meeting is cancelled."
    if meeting.is_declined:
        return "The calendar's account declined the meeting: it gets no bot."
    if meeting.outcome == Meeting.Outcome.COVERED:
        return meeting.outcome_reason
    if meeting.starts_at <= now:
        return "The meeting has begun or is over: the policy asks only for meetings still to come."
    if meeting.bot_failure:
        return f"Scheduling its bot failed: {meeting.bot_failure}"
    status = meeting.integration.status
    if status != PortalStatus.ACTIVE:
        return (
            f"Its calendar connection {CONNECTION_IS.get(status, 'is not active')}: Meeting BaaS "
            "cannot send a bot until it is active again. Fix it on its integration's page."
        )
    if mode != RECORD_ALL:
        return "The customer's policy does not record every meeting: schedule its bot here."
    if not meeting.meeting_url:
        return "It has no meeting URL, so no bot can join: ask its organizer to add a video link."
    if not _ruled_in(meeting):
        return meeting.rule_reason or "Not recorded: a person set it to never be recorded."
    if policy_yet_to_ask(meeting, mode, now):
        return (
            "The policy has not asked for its bot yet: the next sync of its calendar will "
            f"(every {settings.MEETINGS_SYNC_MINUTES} min), or saving the policy asks now."
        )
    asked_at = date_format(timezone.localtime(meeting.auto_bot_at), "DATETIME_FORMAT")
    if not meeting.bot_attempts.filter(at__gte=meeting.auto_bot_at).exists():
        # calendars.meetings.bots.lost_asks: the task may still be asking, or have stopped.
        return (
            f"The policy asked for its bot at {asked_at} and no answer is written yet. An ask "
            "whose task stopped is made again once the task's time is up (a check every "
            f"{queue.LOST_ASKS_MINUTES} minutes, for the meetings of the next "
            f"{LOST_ASKS_HOURS} hours)."
        )
    return (
        f"The policy asked for its bot at {asked_at} and asks only once per meeting: a bot "
        "someone removed stays removed. Schedule it here to send one."
    )


def policy_yet_to_ask(meeting: Meeting, mode: str, now: datetime | None = None) -> bool:
    """Whether the customer's policy is still to ask for the meeting's bot (the meetings of
    `policy.wanting_a_bot`), through an active connection."""
    return (
        mode == RECORD_ALL
        and meeting.integration.status == PortalStatus.ACTIVE
        and not meeting.has_bot
        and not meeting.is_cancelled
        and not meeting.is_declined
        and meeting.auto_bot_at is None
        and bool(meeting.meeting_url)
        and _ruled_in(meeting)
        and meeting.starts_at > (now or timezone.now())
    )


def _ruled_in(meeting: Meeting) -> bool:
    """Not left without a bot by the recording rules or a person's override."""
    return not meeting.rule_reason and meeting.bot_override != Meeting.Override.NEVER
