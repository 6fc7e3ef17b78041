"""Each meeting's outcome (`Meeting.outcome`): did its bot join and record, and if not, why.

An outcome is judged from what the meeting holds (its bot's news from Meeting BaaS, its
scheduling, cancelled or not, its URL), the customer's policy, the last bot action someone
took on it (`BotAttempt`) and its calendar connection's status *at the meeting's start*, read
from the integration's status history (a calendar broken then and fixed since still explains
a missed meeting). `refresh` judges the meetings given (called after their bot fields or
scheduling change); `settle` is the periodic pass over meetings that just ended, which nothing
else touches when their end passes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.utils import timezone

from calendars.lib.bulk_update import update_rows
from calendars.lib.durations import duration_words
from calendars.lib.remote_values import fit
from calendars.meetings import sharing
from calendars.models import BotAttempt, BotPolicy, Meeting, StatusChange
from calendars.status import PortalStatus

Outcome = Meeting.Outcome
Cause = Meeting.Cause
# Meetings judged per query and per UPDATE.
BATCH = 500
# What a judgement writes; up to this many distinct judgements are written one UPDATE each.
JUDGED = ("outcome", "outcome_at", "outcome_cause", "outcome_reason")
ALIKE_UPDATES = 4
# How far back the periodic pass looks for meetings that ended since it last ran (a cluster
# stopped for a day still settles them), and how many it judges per run at most.
SETTLE_DAYS = 2
SETTLE_AT_MOST = 5000
# Outcomes that end without a recording: "Missed meetings".
MISSED = (Outcome.BOT_FAILED, Outcome.NO_BOT, Outcome.NO_NEWS)
# Meeting BaaS' bot status codes (`bot.status_change`), by the outcome they mean.
JOINING = {
    "joining_call": "The bot is joining the call.",
    "in_waiting_room": "The bot is in the waiting room: someone in the meeting must admit it.",
    "in_waiting_for_host": "The bot waits for the host to start the meeting.",
    "in_call_not_recording": "The bot is in the call, not recording yet.",
}
RECORDING = {"in_call_recording"}
FINISHED = {"call_ended", "completed", "done"}
FAILED = {"failed"}
# A calendar connection not active, as a person says it.
BROKEN_WORDS = {
    PortalStatus.ERROR: "in error",
    PortalStatus.DISCONNECTED: "disconnected",
    PortalStatus.SYNCING: "still syncing for the first time",
}

# Meeting BaaS' error codes (`bot.failed`, the bots list's `error_code`): what happened and
# what the customer can do, to pass on as it is.
KNOWN_ERRORS: dict[str, tuple[str, str]] = {
    "MEETING_NOT_FOUND": (
        "The meeting link led to no meeting (wrong, expired or replaced).",
        "Check the link in the calendar event; the next sync takes the new one.",
    ),
    "MEETING_ENDED": (
        "The meeting had already ended when the bot arrived.",
        "Nothing to fix if the meeting was short; otherwise schedule bots before meetings start.",
    ),
    "BOT_NOT_ACCEPTED": (
        "Someone in the meeting refused to let the bot in.",
        "Ask the host to admit the bot (it joins under the policy's bot name).",
    ),
    "WAITING_ROOM_TIMEOUT": (
        "The bot waited in the waiting room and nobody admitted it in time.",
        "Ask the host to admit the bot or let guests in directly, or raise the policy's "
        "waiting-room timeout.",
    ),
    "NO_ONE_JOINED": (
        "Nobody joined the meeting while the bot waited.",
        "Nothing to fix if the meeting did not take place; otherwise raise the policy's "
        "no-one-joined timeout.",
    ),
    "BOT_REMOVED": (
        "Someone in the meeting removed the bot.",
        "Ask the participants to leave the bot in the meeting.",
    ),
    # Calendar bots meet the plan's daily cap as they join ("Meetings at risk" foresees it).
    "DAILY_BOT_CAP_REACHED": (
        "The team's Meeting BaaS plan had used up its bots for the day when this one joined.",
        "Nothing the customer can do: remove bots not needed on busy days, or move to a larger "
        "plan and set MEETINGBAAS_BOTS_PER_DAY.",
    ),
    "BOT_CRASHED": (
        "The bot failed on Meeting BaaS' side.",
        "Nothing the customer can do: send the bot id to Meeting BaaS support.",
    ),
}
# Where each cause of a missed meeting is fixed, for the missed meetings view ("" for the
# meetings nobody heard of yet: no cause).
FIXES: dict[str, str] = {
    Cause.CALENDAR_BROKEN: "Fix the calendar connection on its integration's page (its diagnosis "
    "says how): its next meetings get their bots once it is active again.",
    Cause.NO_URL: "Ask the organizer to put a video link in the event, or record it by hand.",
    Cause.POLICY: "The customer's policy, its recording rules or a person's override did not "
    "record it (each meeting says which): schedule the bots wanted, set the meeting to always "
    "be recorded, or change the policy.",
    Cause.NOT_ASKED: "The event came or moved between two syncs of its calendar: schedule the "
    "bots of such meetings by hand.",
    Cause.REMOVED: "Someone removed the bot on purpose: the meeting's bot history says who.",
    Cause.CANCELLED: "Nothing to fix: the meeting was cancelled.",
    Cause.REFUSED: "Meeting BaaS refused the bot: each meeting gives its reason; fix it, then "
    "schedule the bot again.",
    Cause.BOT_ERROR: "Pass each meeting's explanation on to the customer.",
    "": "Nothing heard from Meeting BaaS since the meeting ended: the poll asks it.",
}


@dataclass(frozen=True)
class Judgement:
    outcome: str
    cause: str
    reason: str
    # When the outcome became true, where that is known (None: since it was first seen).
    at: datetime | None


def judge(meeting: Meeting, now: datetime) -> Judgement:
    """`meeting`'s outcome (read through `judged`, which annotates what this needs)."""
    news = _bot_news(meeting)
    if news is not None:
        return news
    ended = meeting.ends_at <= now
    at_end = meeting.ends_at if ended else None
    if meeting.is_cancelled:
        return Judgement(Outcome.NO_BOT, Cause.CANCELLED, "The meeting was cancelled.", at_end)
    if meeting.is_declined and not meeting.has_bot:
        words = "The calendar's account declined the meeting (its bot, if any, was removed)."
        return Judgement(Outcome.NO_BOT, Cause.CANCELLED, words, at_end)
    if meeting.has_bot:
        if ended:
            return Judgement(
                Outcome.NO_NEWS,
                "",
                "The meeting ended and Meeting BaaS has said nothing of its bot yet: the poll "
                "asks it.",
                at_end,
            )
        return Judgement(Outcome.SCHEDULED, "", f"A bot is scheduled {_by_whom(meeting)}.", None)
    if meeting.carrier_id not in (None, meeting.pk):
        # Its carrier's outcome is the meeting's: counted there, never missed twice.
        return Judgement(Outcome.COVERED, "", covered_words(meeting), None)
    return _no_bot(meeting, now, at_end)


def covered_words(meeting: Meeting) -> str:
    """What a copy another copy carries the bot for says: the carrier's bot, or why it has
    none (read through `judged`)."""
    account = meeting.carrier_account
    if meeting.carrier_override == Meeting.Override.NEVER:
        return (
            f"Not recorded: a person set the copy on {account}'s calendar, which carries this "
            "meeting's bot, to never be recorded."
        )
    if meeting.carrier_has_bot:
        return f"Covered by the bot on {account}'s calendar."
    # Its bot removed, refused, or not asked for yet (the policy's task asks the carrier's
    # with the copy's, and judges both after).
    return f"Covered by the copy on {account}'s calendar, which has no bot now (its page says why)."


def _bot_news(meeting: Meeting) -> Judgement | None:
    status = meeting.bot_status
    if meeting.bot_error_code or status in FAILED:
        return Judgement(
            Outcome.BOT_FAILED,
            Cause.BOT_ERROR,
            explain_error(meeting.bot_error_code, meeting.bot_error_message),
            meeting.bot_status_at or meeting.bot_exited_at,
        )
    if status in FINISHED or meeting.bot_duration_seconds is not None:
        seconds = meeting.bot_duration_seconds
        recorded = f" for {duration_words(timedelta(seconds=seconds))}" if seconds else ""
        return Judgement(
            Outcome.RECORDED,
            "",
            f"The bot joined and recorded{recorded}.",
            meeting.bot_exited_at or meeting.bot_status_at,
        )
    if status in RECORDING:
        return Judgement(Outcome.RECORDING, "", "The bot is recording.", meeting.bot_status_at)
    if status in JOINING:
        return Judgement(Outcome.JOINING, "", JOINING[status], meeting.bot_status_at)
    return None


def _no_bot(meeting: Meeting, now: datetime, at_end: datetime | None) -> Judgement:
    """Why a meeting has no bot: the first cause that holds, the most particular first."""
    ended = at_end is not None

    def no_bot(cause: str, words: str) -> Judgement:
        return Judgement(Outcome.NO_BOT, cause, words, at_end)

    if meeting.bot_override == Meeting.Override.NEVER:
        who = meeting.last_action_by if meeting.last_action == BotAttempt.Action.NEVER else ""
        return no_bot(
            Cause.POLICY, f"Not recorded: {who or 'a person'} set it to never be recorded."
        )
    if meeting.last_action == BotAttempt.Action.REMOVE:
        return no_bot(Cause.REMOVED, f"{meeting.last_action_by} removed its bot.")
    if meeting.bot_failure:
        return no_bot(Cause.REFUSED, f"Meeting BaaS refused its bot: {meeting.bot_failure}")
    if meeting.policy_mode != BotPolicy.Mode.RECORD_ALL:
        return no_bot(
            Cause.POLICY,
            "The customer's policy does not record every meeting, and nobody scheduled its bot.",
        )
    if meeting.rule_reason:
        return no_bot(Cause.POLICY, meeting.rule_reason)
    if not meeting.meeting_url:
        return no_bot(Cause.NO_URL, "It has no meeting URL, so no bot could join.")
    if meeting.status_then not in (None, PortalStatus.ACTIVE):
        was = "was" if meeting.starts_at <= now else "is"
        state = BROKEN_WORDS.get(meeting.status_then, meeting.status_then)
        return no_bot(
            Cause.CALENDAR_BROKEN,
            f"Its calendar connection {was} {state} when it began: Meeting BaaS sends no bot "
            "through a connection that is not active.",
        )
    if ended:
        return no_bot(Cause.NOT_ASKED, "The policy did not ask for its bot before it began.")
    return no_bot(Cause.NOT_ASKED, "The policy has not asked for its bot yet.")


def _by_whom(meeting: Meeting) -> str:
    if meeting.last_action == BotAttempt.Action.POLICY:
        return "by the bot policy"
    if meeting.last_action in (BotAttempt.Action.SCHEDULE, BotAttempt.Action.SCHEDULE_SERIES):
        return f"by {meeting.last_action_by}"
    return "in the calendar (not through the portal)"


def explain_error(code: str, message: str) -> str:
    """A bot's failure in words to pass on: what happened and what the customer can do."""
    known = KNOWN_ERRORS.get(code.upper())
    said = f" Meeting BaaS said: {message}" if message else ""
    if known is None:
        return f"The bot failed ({code or 'no code'}).{said}"
    what, todo = known
    return f"{what} {todo} ({code}){said}"


def judged(meetings: object) -> object:
    """`meetings` (a queryset) with what `judge` reads besides the meeting's own columns."""
    # A follow-up check schedules nothing itself: who scheduled the bot is the action before.
    last = (
        BotAttempt.objects.filter(meeting=OuterRef("pk"), succeeded=True)
        .exclude(action=BotAttempt.Action.FOLLOW)
        .order_by("-at", "-id")
    )
    then = StatusChange.objects.filter(
        integration=OuterRef("integration_id"), changed_at__lte=OuterRef("starts_at")
    ).order_by("-changed_at", "-id")
    return meetings.annotate(
        policy_mode=F("integration__credential__customer__bot_policy__mode"),
        last_action=Subquery(last.values("action")[:1]),
        last_action_by=Subquery(last.values("username")[:1]),
        status_then=Subquery(then.values("to_status")[:1]),
        carrier_id=F("shared_meeting__carrier_id"),
        carrier_account=F("shared_meeting__carrier__integration__credential__account_email"),
        carrier_has_bot=F("shared_meeting__carrier__has_bot"),
        carrier_override=F("shared_meeting__carrier__bot_override"),
    )


def refresh(meeting_ids: Iterable[int], now: datetime | None = None) -> int:
    """Judge the meetings of `meeting_ids` again, with the copies those among them carry the
    bot for (what a copy says follows its carrier's bot), and store what changed; returns
    how many."""
    now = now or timezone.now()
    ids = list(meeting_ids)
    if ids:
        covered = Meeting.objects.filter(shared_meeting__carrier_id__in=ids).exclude(pk__in=ids)
        ids += covered.values_list("pk", flat=True)
    changed = 0
    for start in range(0, len(ids), BATCH):
        # Locked while judged (in the order of their ids, as bot news locks them): news applied
        # meanwhile would otherwise be overwritten by an outcome judged before it.
        with transaction.atomic():
            meetings = judged(
                Meeting.objects.select_for_update(of=("self",))
                .filter(pk__in=ids[start : start + BATCH])
                .order_by("pk")
            )
            rows = [m for m in meetings if _store(m, judge(m, now), now)]
            _save(rows)
        changed += len(rows)
    return changed


def _save(rows: list[Meeting]) -> None:
    """Store the rows' judgements: one UPDATE per distinct judgement when they are few (a
    delivery's new meetings mostly share one), else one UPDATE from a list of values."""
    alike: dict[tuple, list[int]] = defaultdict(list)
    for m in rows:
        alike[(m.outcome, m.outcome_at, m.outcome_cause, m.outcome_reason)].append(m.pk)
    if len(alike) > ALIKE_UPDATES:
        update_rows(rows, JUDGED)
        return
    for values, pks in alike.items():
        Meeting.objects.filter(pk__in=pks).update(**dict(zip(JUDGED, values, strict=True)))


def _store(meeting: Meeting, judgement: Judgement, now: datetime) -> bool:
    """Set the judgement on `meeting`; whether that changed it."""
    same = (meeting.outcome, meeting.outcome_cause) == (judgement.outcome, judgement.cause)
    at = judgement.at or (meeting.outcome_at if same and meeting.outcome_at else now)
    reason = fit(Meeting, "outcome_reason", judgement.reason)
    if same and (meeting.outcome_at, meeting.outcome_reason) == (at, reason):
        return False
    meeting.outcome, meeting.outcome_cause = judgement.outcome, judgement.cause
    meeting.outcome_at, meeting.outcome_reason = at, reason
    return True


def settle(now: datetime | None = None) -> int:
    """Judge the meetings whose end passed since they were last judged, and those never
    judged (at most SETTLE_AT_MOST, the earliest first); returns how many changed."""
    now = now or timezone.now()
    ended = Q(
        outcome__in=["", Outcome.SCHEDULED, Outcome.NO_BOT],
        starts_at__gte=now - timedelta(days=SETTLE_DAYS),
        ends_at__lte=now,
    ) & (Q(outcome_at__isnull=True) | Q(outcome_at__lt=F("ends_at")))
    due = (
        Meeting.objects.filter(ended | Q(outcome=""))
        .order_by("starts_at")
        .values_list("pk", flat=True)
    )
    return refresh(due[:SETTLE_AT_MOST], now)


def history_start(now: datetime | None = None) -> datetime:
    """The start of the meetings kept: MEETINGS_HISTORY_DAYS back."""
    return (now or timezone.now()) - timedelta(days=settings.MEETINGS_HISTORY_DAYS)


@dataclass(frozen=True)
class Step:
    """One moment of a meeting's timeline: when, what, and the words that go with it."""

    at: datetime
    what: str
    details: str = ""


# A bot's move between copies of a shared meeting: the timeline says where it went or came
# from, and why (its attempts' messages).
MOVED = tuple(words.partition("{")[0] for words in (sharing.MOVED_TO, sharing.MOVED_FROM))
ATTEMPT_STEPS = {
    BotAttempt.Action.SCHEDULE: "Bot scheduled",
    BotAttempt.Action.SCHEDULE_SERIES: "Bot scheduled (every occurrence)",
    BotAttempt.Action.POLICY: "Bot scheduled",
    BotAttempt.Action.CHANGE: "Bot settings changed",
    BotAttempt.Action.REMOVE: "Bot removed",
    BotAttempt.Action.MOVE: "Bot moved here",
    BotAttempt.Action.ALWAYS: "Set to always be recorded",
    BotAttempt.Action.NEVER: "Set to never be recorded",
    BotAttempt.Action.FOLLOW_RULES: "Set to follow the recording rules",
    BotAttempt.Action.FOLLOW: "Bot checked after the meeting changed",
}


def timeline(meeting: Meeting, attempts: Iterable[BotAttempt], now: datetime) -> list[Step]:
    """What happened to `meeting` and its bot, in time order: synced, the bot scheduled (by
    whom, or the policy), the meeting's start, joining, recording, recorded or failed."""
    steps = [Step(meeting.synced_at, "Synced from the calendar", "the last sync")]
    for attempt in attempts:
        by = (
            "by the bot policy"
            if attempt.action in (BotAttempt.Action.POLICY, BotAttempt.Action.MOVE)
            else (f"by {attempt.username}")
        )
        if attempt.succeeded and attempt.message.startswith(MOVED):
            steps.append(Step(attempt.at, ATTEMPT_STEPS[attempt.action], attempt.message))
        elif attempt.succeeded:
            steps.append(Step(attempt.at, ATTEMPT_STEPS[attempt.action], by))
        else:
            failed = f"{ATTEMPT_STEPS[attempt.action]}: failed"
            steps.append(Step(attempt.at, failed, f"{by}: {attempt.message}"))
    steps.append(
        Step(meeting.starts_at, "Meeting began" if meeting.starts_at <= now else "Meeting begins")
    )
    if meeting.bot_joined_at:
        steps.append(Step(meeting.bot_joined_at, "Bot joined"))
    if meeting.bot_status_at and meeting.bot_status in JOINING:
        steps.append(Step(meeting.bot_status_at, "Joining", JOINING[meeting.bot_status]))
    if meeting.bot_status_at and meeting.bot_status in RECORDING:
        steps.append(Step(meeting.bot_status_at, "Recording"))
    if meeting.ends_at <= now:
        steps.append(Step(meeting.ends_at, "Meeting ended"))
    if meeting.outcome in (Outcome.RECORDED, *MISSED) and meeting.outcome_at:
        steps.append(
            Step(meeting.outcome_at, meeting.get_outcome_display(), meeting.outcome_reason)
        )
    return sorted(steps, key=lambda step: step.at)
