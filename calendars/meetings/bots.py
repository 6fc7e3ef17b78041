"""The bot verbs: schedule, change and remove the bot on meetings, by hand or by the policy.

Each records what it asked and how it went (a `BotAttempt` per meeting acted on) and writes
the answer into the mirror at once, so the lists need no sync to show it. A bot call's
outcome is in its answer: there is nothing to wait for, unlike an integration's fix.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from uuid import UUID

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from calendars.lib.database import DATABASE_ERRORS
from calendars.lib.remote_values import fit
from calendars.meetingbaas import client
from calendars.meetingbaas.errors import BotConflict, EventNotFound
from calendars.meetingbaas.types import MEETING_KEY, BotConfig, BotScheduling
from calendars.meetings import recording, sharing
from calendars.meetings.mirror import whole_second
from calendars.meetings.policy import policy_of, wanting_a_bot
from calendars.models import BotAttempt, BotPolicy, Integration, Meeting
from calendars.problems import PROBLEMS
from calendars.status import PortalStatus

logger = logging.getLogger(__name__)
Action = BotAttempt.Action
ALREADY_SCHEDULED = "BOT_ALREADY_SCHEDULED"
# What the history says of a policy's ask whose answer the database lost, the bot since seen.
INTERRUPTED = (
    "Meeting BaaS has its bot. The policy's ask was interrupted by a lost database connection "
    "before its answer was written."
)
# Says in the message (after its `because`) that trying again later could cure the failure.
TRANSIENT_MARK = "Not done for now: "


class _Hand(threading.local):
    """The policy's claim on a meeting this worker holds while asking for its bot (one task at
    a time runs in a worker; a thread's own, should tasks ever run in threads side by side). A
    task that loses the database between the claim and the answer is run again
    (calendars.lib.database), and gives the claim back first: kept, it would leave the meeting
    without a bot for good. Asked again, a bot that was scheduled after all is answered
    "already scheduled", which counts as done: never a second bot. `asked`: the API was
    called for the claimed meeting (only then can a bot seen since be the policy's)."""

    claim: tuple[int, datetime] | None = None
    asked: bool = False


_hand = _Hand()

# Shared meetings whose bot one run moves at most (the next run goes on).
MOVES_AT_MOST = 200
# Asks lost on the way are looked for among the meetings starting within this many hours
# (each meeting comes into it in time), at most this many a run, asked again this many a task
# (well within Q_TIMEOUT at Meeting BaaS's pace).
LOST_ASKS_HOURS = 48
LOST_ASKS_AT_MOST = 500
LOST_ASKS_A_TASK = 25
# Actions the policy takes by itself (the attempt's user is "bot policy").
BY_POLICY = (Action.POLICY, Action.MOVE)


@dataclass(frozen=True)
class Outcome:
    meeting: Meeting
    succeeded: bool
    message: str


def schedule(
    meeting_ids: Iterable[int],
    *,
    acting_user: AbstractBaseUser | None,
    every_occurrence: bool = False,
) -> list[Outcome]:
    """Schedule the customer's bot on each meeting, or on every future occurrence of its
    series (one call per series however many of its meetings are chosen)."""
    action = Action.SCHEDULE_SERIES if every_occurrence else Action.SCHEDULE
    chosen = _meetings(meeting_ids)
    if every_occurrence:
        chosen = list({(m.integration_id, m.series_id or m.pk): m for m in chosen}.values())
    return [_schedule_one(m, action, acting_user, every_occurrence) for m in chosen]


def change(meeting_ids: Iterable[int], *, acting_user: AbstractBaseUser | None) -> list[Outcome]:
    """Give each meeting's bot the settings of the customer's bot policy now."""
    return [
        _call(
            meeting,
            Action.CHANGE,
            acting_user,
            lambda m, api, config: api.update_bot(
                m.integration.remote_id, config=config, **_target(m)
            ),
        )
        for meeting in _meetings(meeting_ids)
    ]


def remove(
    meeting_ids: Iterable[int], *, acting_user: AbstractBaseUser | None, because: str = ""
) -> list[Outcome]:
    """Cancel each meeting's bot (a bot already in the meeting leaves it); `because` begins
    what is recorded."""
    return [
        _call(
            meeting,
            Action.REMOVE,
            acting_user,
            lambda m, api, config: api.remove_bot(m.integration.remote_id, **_target(m)),
            because=because,
        )
        for meeting in _meetings(meeting_ids)
    ]


def apply_policy(meeting_ids: Iterable[int]) -> list[Outcome]:
    """Schedule the policy's bot on the meetings that still want one, once per event, and
    once per meeting in several calendars (the copy carrying it: calendars/meetings/sharing.py).

    A transient failure (rate limit, outage) gives the event back to the policy, so the next
    sync or webhook asks again; any other failure stays on the meeting with the API's reason.
    """
    meeting_ids = list(meeting_ids)
    # The rerun's claim given back (a covered copy's carrier, maybe) is asked with the others.
    given_back = _give_back_claim(interrupted=True)
    if given_back is not None and given_back not in meeting_ids:
        meeting_ids.append(given_back)
    outcomes = []
    policies: dict[int, BotPolicy] = {}
    try:
        for meeting in _meetings(meeting_ids):
            customer_id = meeting.integration.credential.customer_id
            if customer_id not in policies:
                policies[customer_id] = policy_of(customer_id)
            if policies[customer_id].mode != BotPolicy.Mode.RECORD_ALL:
                continue  # turned off since the task was queued
            target = _claimed(meeting, policies[customer_id])
            if target is None:
                continue
            outcome = _schedule_one(
                target, Action.POLICY, None, every_occurrence=False, policy=policies[customer_id]
            )
            _hand.claim = None
            outcomes.append(outcome)
    except DATABASE_ERRORS:
        raise  # the claim stays in hand for the task run again on a new connection
    except Exception:
        _give_back_claim()
        raise
    return outcomes


def _claimed(meeting: Meeting, policy: BotPolicy) -> Meeting | None:
    """The copy of `meeting` to schedule the bot on now, claimed (`_hand.claim`): itself, or the
    copy of the same meeting in another calendar that carries it (`meeting` is then covered,
    asked once like any other); None when the rules skip it, it was asked already, or its
    carrier has its bot or was asked for it."""
    if not _claim(meeting) or not _wanted(meeting, policy):
        return None
    carrier = sharing.carrier_for(meeting, policy.bot_scope)
    if carrier.pk == meeting.pk:
        return meeting
    _hand.claim = None  # covered: its claim stays, as the event's one ask
    if carrier.has_bot or carrier.auto_bot_at is not None:
        return None
    carrier = next(iter(_meetings([carrier.pk])), None)
    if carrier is None or not _claim(carrier):
        return None
    if _wanted(carrier, policy):
        return carrier
    # The rules skip the carrier (a fact learned only now): the asked copy carries instead.
    sharing.carry(meeting)
    return meeting if _claim(meeting, again=True) else None


def _claim(meeting: Meeting, *, again: bool = False) -> bool:
    """Claim the policy's one ask for `meeting` (held in `_hand.claim` until answered)."""
    claimed_at = timezone.now()
    wanting = Meeting.objects.filter(pk=meeting.pk)
    wanting = wanting.filter(has_bot=False) if again else wanting_a_bot(wanting)
    # In hand before the UPDATE: one the database made but whose answer the connection lost
    # is given back all the same. A new ask: an earlier one's failure no longer stands.
    _hand.claim, _hand.asked = (meeting.pk, claimed_at), False
    if not wanting.update(auto_bot_at=claimed_at, bot_failure=""):
        _hand.claim = None
        return False
    return True


def _wanted(meeting: Meeting, policy: BotPolicy) -> bool:
    if recording.still_wanted(meeting, policy):
        return True
    _give_back_claim()  # the recording rules skip it: their words are on the meeting
    return False


def move_bots(now: datetime | None = None) -> list[int]:
    """Move the bot of each shared meeting to come whose carrier can no longer carry it to
    another copy (removed from the old one where Meeting BaaS still can, scheduled on the
    new, both recorded); returns the ids of the copies whose outcome may have changed."""
    touched: list[int] = []
    for shared_id in sharing.needing_a_move(now).values_list("pk", flat=True)[:MOVES_AT_MOST]:
        touched += _move(shared_id, now or timezone.now())
    return touched


def _move(shared_id: int, now: datetime) -> list[int]:
    with transaction.atomic():
        shared = (
            sharing.needing_a_move(now)
            .select_for_update(of=("self",))
            .select_related("carrier__integration__credential")
            .filter(pk=shared_id)
            .first()
        )
        if shared is None:
            return []  # moved meanwhile
        old = shared.carrier
        candidates = sharing.able_to_carry(sharing.copies_of(shared), now)
        new = sharing.choose(candidates.exclude(pk=old.pk) if old else candidates)
        if new is None:
            return []  # no copy can carry it: each one's outcome says why
        shared.carrier = new
        shared.save(update_fields=["carrier"])
    why = sharing.why_it_moves(old)
    new_account = new.integration.credential.account_email
    old_account = old.integration.credential.account_email if old else "another account"
    if old is not None and old.has_bot:
        remove(
            [old.pk],
            acting_user=None,
            because=sharing.MOVED_TO.format(account=new_account, why=why),
        )
    Meeting.objects.filter(pk=new.pk).update(auto_bot_at=now)
    if not new.has_bot:
        because = sharing.MOVED_FROM.format(account=old_account, why=why)
        _schedule_one(new, Action.MOVE, None, False, because=because)
    return list(shared.copies.values_list("pk", flat=True))


def lost_asks(now: datetime | None = None) -> QuerySet[Meeting]:
    """Meetings carrying their bot (alone, or their shared meeting's carrier) whose ask by the
    policy (or a move) got no answer: the task stopped between claiming the meeting and
    writing what the API said (killed at its time limit, its worker lost, the database gone
    for longer than it retries). A claim older than Q_RETRY (as the other sweeps judge a task
    gone: django-q2 delivers a task again by then), with no attempt on the meeting since and no
    bot, was never answered; an answered ask is never made again (a bot
    someone removed stays removed). Only while the customer's policy records every meeting."""
    now = now or timezone.now()
    # Not a copy whose shared meeting has lost its carrier: the minute's move chooses one.
    carrying = Q(shared_meeting__isnull=True) | Q(shared_meeting__carrier=F("pk"))
    return (
        Meeting.objects.filter(
            carrying,
            starts_at__gt=now,
            starts_at__lte=now + timedelta(hours=LOST_ASKS_HOURS),
            has_bot=False,
            auto_bot_at__lt=now - timedelta(seconds=settings.Q_CLUSTER["retry"]),
            is_cancelled=False,
            is_declined=False,
            integration__status=PortalStatus.ACTIVE,
            integration__credential__customer__bot_policy__mode=BotPolicy.Mode.RECORD_ALL,
        )
        .exclude(bot_override=Meeting.Override.NEVER)
        .exclude(_answered_since(OuterRef("auto_bot_at")))
    )


def reopen_lost_asks(now: datetime | None = None) -> list[int]:
    """Give the policy its ask again for the meetings of `lost_asks`, soonest first; returns
    their ids, for the policy's task to ask (Meeting BaaS answers "already scheduled" for a
    bot that was scheduled after all: never a second bot)."""
    lost = lost_asks(now)
    ids = list(lost.order_by("starts_at", "pk").values_list("pk", flat=True)[:LOST_ASKS_AT_MOST])
    # Judged again in the UPDATE: one claimed again or given its bot since is left alone.
    lost.filter(pk__in=ids).update(auto_bot_at=None)
    return ids


def _answered_since(claimed_at: object) -> Exists:
    """Whether the meeting has a bot attempt since `claimed_at` (a value or an OuterRef)."""
    return Exists(BotAttempt.objects.filter(meeting=OuterRef("pk"), at__gte=claimed_at))


@dataclass(frozen=True)
class PolicyApplied:
    """What applying the policy to one integration's known upcoming meetings did."""

    integration: Integration
    asked: int
    # The API's reasons for the meetings that did not get their bot.
    failures: list[str]


def apply_policy_to(
    integration_id: int, *, acting_user: AbstractBaseUser | None = None
) -> PolicyApplied:
    """Ask the policy's bot for each of the integration's known upcoming meetings that want
    one (an item of the job a saved policy starts); nothing through a connection not active,
    which sends no bot, nor once the policy no longer records every meeting."""
    integration = Integration.objects.select_related("credential").get(pk=integration_id)
    mode = policy_of(integration.credential.customer_id).mode
    if integration.status != PortalStatus.ACTIVE or mode != BotPolicy.Mode.RECORD_ALL:
        return PolicyApplied(integration, 0, [])
    wanted = wanting_a_bot(Meeting.objects.filter(integration=integration)).values_list(
        "pk", flat=True
    )
    outcomes = apply_policy(list(wanted))
    failures = [outcome.message for outcome in outcomes if not outcome.succeeded]
    return PolicyApplied(integration, len(outcomes), failures)


def _give_back_claim(*, interrupted: bool = False) -> int | None:
    """Give back the claim in hand; returns the meeting's id if it was given back.
    `interrupted`: by the database lost in mid-ask, so the meeting may have its bot by now (the
    API was called, its answer not written, and a sync has read the bot since): that ask is
    recorded then, as the history's only word of it. The claim leaves the hand only once done:
    a rerun that loses the database again here tries again."""
    if _hand.claim is None:
        return None
    meeting_pk, claimed_at = _hand.claim
    claimed = Meeting.objects.filter(pk=meeting_pk, auto_bot_at=claimed_at)
    given_back = claimed.filter(has_bot=False, bot_failure="").update(auto_bot_at=None)
    if not given_back and interrupted and _hand.asked:
        meeting = claimed.filter(has_bot=True).exclude(_answered_since(claimed_at)).first()
        if meeting is not None:
            _record(meeting, Action.POLICY, None, True, INTERRUPTED)
    _hand.claim = None
    return meeting_pk if given_back else None


def _meetings(meeting_ids: Iterable[int]) -> list[Meeting]:
    return list(
        Meeting.objects.filter(pk__in=list(meeting_ids))
        .select_related("integration__credential")
        .order_by("starts_at", "pk")
    )


def _target(meeting: Meeting, every_occurrence: bool = False) -> dict:
    # v2 wants the series on every bot call: the stored one spares a GET of the event.
    return {
        "event_id": meeting.remote_event_id,
        "series_id": meeting.series_id or None,
        "all_occurrences": every_occurrence,
    }


def _schedule_one(
    meeting: Meeting,
    action: str,
    acting_user: AbstractBaseUser | None,
    every_occurrence: bool,
    because: str = "",
    policy: BotPolicy | None = None,
) -> Outcome:
    return _call(
        meeting,
        action,
        acting_user,
        lambda m, api, config: api.schedule_bot(
            m.integration.remote_id, config=config, **_target(m, every_occurrence)
        ),
        because=because,
        policy=policy,
    )


def _call(
    meeting: Meeting,
    action: str,
    acting_user: AbstractBaseUser | None,
    call: Callable[[Meeting, object, BotConfig | None], BotScheduling],
    because: str = "",
    policy: BotPolicy | None = None,
) -> Outcome:
    """Make the bot call for `meeting`, write its answer into the mirror, record it (with
    `policy`'s settings: the customer's, read now unless the caller holds it)."""
    started = whole_second(timezone.now())
    removing = action == Action.REMOVE
    try:
        config = (
            None
            if removing
            else _with_meeting(
                meeting,
                action,
                (policy or policy_of(meeting.integration.credential.customer_id)).bot_config(),
            )
        )
        if _hand.claim is not None and _hand.claim[0] == meeting.pk:
            _hand.asked = True
        answer = call(meeting, client(meeting.integration.api_version), config)
    except PROBLEMS as exc:
        refusal, answer = exc, None
    else:
        refusal = None
    # The mirror and the history together: a task that lost the database between the two
    # would leave a bot no attempt records (run again, it finds the meeting has its bot).
    with transaction.atomic():
        if refusal is not None:
            outcome = _refused(meeting, action, acting_user, refusal, started, because)
            if action in BY_POLICY and getattr(refusal, "transient", False):
                # Given back: the next sync or webhook asks again.
                Meeting.objects.filter(pk=meeting.pk).update(auto_bot_at=None)
            return outcome
        summary = config.summary if config is not None else ""
        _mark(meeting, answer.succeeded, has_bot=not removing, summary=summary, as_of=started)
        return _judge(meeting, action, acting_user, answer, not removing, because)


def _refused(
    meeting: Meeting,
    action: str,
    acting_user: AbstractBaseUser | None,
    exc: Exception,
    started: datetime,
    because: str,
) -> Outcome:
    """The outcome of a bot call the API answered with an error."""
    removing = action == Action.REMOVE
    if isinstance(exc, BotConflict) and action not in (Action.CHANGE, Action.REMOVE):
        # v1's 409: the event has its bot already, which is what was asked.
        _mark(meeting, [meeting.remote_event_id], has_bot=True, summary="", as_of=started)
        return _record(
            meeting, action, acting_user, True, "A bot was already scheduled.", because=because
        )
    if isinstance(exc, EventNotFound) and removing:
        _mark(meeting, [meeting.remote_event_id], has_bot=False, summary="", as_of=started)
        return _record(meeting, action, acting_user, True, "No bot was scheduled.", because=because)
    mark = TRANSIENT_MARK if getattr(exc, "transient", False) else ""
    return _record(meeting, action, acting_user, False, f"{mark}{exc}", because=because)


def _with_meeting(meeting: Meeting, action: str, config: BotConfig) -> BotConfig:
    """The settings with the meeting's id in the bot's `extra`, to match its news to it. A
    series' bots share one `extra`: they name no meeting, and are matched by their event."""
    if action == Action.SCHEDULE_SERIES:
        return config
    return replace(config, extra={**(config.extra or {}), MEETING_KEY: str(meeting.pk)})


def _judge(
    meeting: Meeting,
    action: str,
    acting_user: AbstractBaseUser | None,
    answer: BotScheduling,
    has_bot: bool,
    because: str = "",
) -> Outcome:
    """The outcome for `meeting` from an answer that may cover a whole series."""
    already = [f.event_id for f in answer.failed if f.code == ALREADY_SCHEDULED]
    _mark(meeting, already, has_bot=True, summary="", as_of=whole_second(timezone.now()))
    refused = [f for f in answer.failed if f.code != ALREADY_SCHEDULED]
    for failure in refused:
        reason = fit(Meeting, "bot_failure", f"{failure.code}: {failure.message}")
        Meeting.objects.filter(
            integration_id=meeting.integration_id, remote_event_id=failure.event_id
        ).update(bot_failure=reason)
    own = next((f for f in refused if f.event_id == meeting.remote_event_id), None)
    if own is not None:
        return _record(
            meeting, action, acting_user, False, f"{own.code}: {own.message}", because=because
        )
    done = len(answer.succeeded) + len(already)
    if action == Action.SCHEDULE_SERIES:
        message = f"{done} occurrence(s) have a bot" + (
            f"; {len(refused)} refused: {refused[0].code}: {refused[0].message}" if refused else "."
        )
        return _record(
            meeting, action, acting_user, not refused or bool(done), message, because=because
        )
    if meeting.remote_event_id in already:
        return _record(
            meeting, action, acting_user, True, "A bot was already scheduled.", because=because
        )
    return _record(
        meeting, action, acting_user, True, "Done." if has_bot else "Removed.", because=because
    )


def _mark(
    meeting: Meeting, event_ids: list[UUID], *, has_bot: bool, summary: str, as_of: datetime
) -> None:
    """Write what the API did to the mirror, as of the call (older news cannot undo it)."""
    if not event_ids:
        return
    changes: dict = {
        "has_bot": has_bot,
        "bot_failure": "",
        "remote_updated_at": Greatest(Coalesce("remote_updated_at", Value(as_of)), Value(as_of)),
    }
    if summary or not has_bot:
        changes["bot_summary"] = fit(Meeting, "bot_summary", summary)
    Meeting.objects.filter(
        integration_id=meeting.integration_id, remote_event_id__in=event_ids
    ).update(**changes)


def _record(
    meeting: Meeting,
    action: str,
    acting_user: AbstractBaseUser | None,
    succeeded: bool,
    message: str,
    because: str = "",
) -> Outcome:
    message = f"{because}{message}"
    who = (
        {"user": acting_user, "username": acting_user.get_username()}
        if acting_user is not None and acting_user.is_authenticated
        else {"user": None, "username": "bot policy" if action in BY_POLICY else "system"}
    )
    if not succeeded and action != Action.REMOVE:
        Meeting.objects.filter(pk=meeting.pk).update(
            bot_failure=fit(Meeting, "bot_failure", message)
        )
    attempt(meeting, action, succeeded, message, **who)
    logger.info("bot %s on meeting %s: %s", action, meeting.pk, message)
    return Outcome(meeting=meeting, succeeded=succeeded, message=message)


def attempt(
    meeting: Meeting,
    action: str,
    succeeded: bool,
    message: str,
    *,
    user: AbstractBaseUser | None = None,
    username: str = "system",
) -> BotAttempt:
    """The history's row of what was asked of `meeting`'s bot (the meeting named as it is)."""
    return BotAttempt.objects.create(
        meeting=meeting,
        integration_id=meeting.integration_id,
        remote_event_id=meeting.remote_event_id,
        meeting_title=meeting.title,
        meeting_starts_at=meeting.starts_at,
        action=action,
        succeeded=succeeded,
        message=fit(BotAttempt, "message", message),
        user=user,
        username=username,
    )
