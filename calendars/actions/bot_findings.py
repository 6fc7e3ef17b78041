"""Reconciliation of bots: the last step of a run, and what an admin does with its findings.

What Meeting BaaS holds of each upcoming meeting's bot is what the mirror holds (each calendar
listed every MEETINGS_SYNC_MINUTES, and its webhooks as they come), so the step reads the
database, not the API: a duplicate bot (several copies of one meeting, as one bot per meeting
decides them, each with its bot), an unwanted bot (the customer's policy would not
schedule it and no one scheduled it through the portal), a missing bot (the policy asked for
one and Meeting BaaS has none, no one removed it, and no other copy of the meeting carries
its bot). Each action reads the mirror again
before it calls, and calls through the bot verbs, which record their BotAttempt and write the
answer into the mirror; the finding and an ActionRecord say what was done.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import NoReturn

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from calendars.actions.audit import record_action
from calendars.lib.remote_values import fit
from calendars.meetings import bots, outcomes, sharing
from calendars.models import (
    BotAttempt,
    BotPolicy,
    Meeting,
    Reconciliation,
    ReconciliationFinding,
)
from calendars.status import PortalStatus

Kind = ReconciliationFinding.Kind
Outcome = ReconciliationFinding.Outcome
BOT_KINDS = (Kind.DUPLICATE_BOT, Kind.UNWANTED_BOT, Kind.MISSING_BOT)
# Findings of each kind a run records at most, the soonest meetings first: past that many, a
# fix is needed at the root (a policy, an integration), not one by one.
PER_KIND = 500
REMOVE_DUPLICATE = "remove duplicate bot"
SCHEDULE_MISSING = "schedule bot"


class BotFindingRefused(Exception):
    """An action on a bot finding the portal will not do; `str()` says why."""


def policy_records(meetings: QuerySet[Meeting]) -> QuerySet[Meeting]:
    """The meetings of `meetings` the customer's bot policy would give a bot: the one place
    bot reconciliation asks. "Record every meeting" and a URL (as `policy.wanting_a_bot`
    judges), unless a recording rule skipped it (its words kept in `rule_reason` by
    `recording.worth_asking`) or a person said never; a person's "always" wins over all.
    """
    record_all = Q(integration__credential__customer__bot_policy__mode=BotPolicy.Mode.RECORD_ALL)
    by_rules = record_all & Q(rule_reason="") & ~Q(bot_override=Meeting.Override.NEVER)
    return meetings.filter(by_rules | Q(bot_override=Meeting.Override.ALWAYS)).exclude(
        meeting_url=""
    )


def carrying_its_own(meetings: QuerySet[Meeting]) -> QuerySet[Meeting]:
    """The meetings of `meetings` no other copy carries the bot for: a copy another carries
    is covered by that bot (one bot per meeting), and a bot of its own would be a duplicate,
    unless a person set it to always be recorded."""
    return meetings.filter(
        Q(shared_meeting__carrier__isnull=True)
        | Q(shared_meeting__carrier=F("pk"))
        | Q(bot_override=Meeting.Override.ALWAYS)
    )


def _upcoming(now: datetime) -> QuerySet[Meeting]:
    return Meeting.objects.filter(starts_at__gt=now, is_cancelled=False).exclude(
        integration__status=PortalStatus.DISCONNECTED
    )


def _asked_by_a_person(action: str) -> Exists:
    return Exists(
        BotAttempt.objects.filter(
            meeting=OuterRef("pk"), action=action, succeeded=True, user__isnull=False
        )
    )


def find(run: Reconciliation, now: datetime | None = None) -> list[ReconciliationFinding]:
    """The run's bot findings (not saved), each kind the soonest PER_KIND meetings."""
    now = now or timezone.now()
    upcoming = _upcoming(now)
    with_bot = upcoming.filter(has_bot=True)
    unwanted = (
        with_bot.exclude(pk__in=policy_records(with_bot).values("pk"))
        .exclude(_asked_by_a_person(BotAttempt.Action.SCHEDULE))
        .exclude(_asked_by_a_person(BotAttempt.Action.SCHEDULE_SERIES))
    )
    missing = (
        carrying_its_own(policy_records(upcoming))
        .filter(has_bot=False, auto_bot_at__isnull=False, integration__status=PortalStatus.ACTIVE)
        .exclude(_asked_by_a_person(BotAttempt.Action.REMOVE))
    )
    found = _duplicates(run, with_bot)
    for kind, meetings, words in (
        (
            Kind.UNWANTED_BOT,
            unwanted,
            "Meeting BaaS has a bot on it, but the customer's bot policy would not schedule "
            "one and no one scheduled it through the portal.",
        ),
        (
            Kind.MISSING_BOT,
            missing,
            "The customer's bot policy asked for its bot, but Meeting BaaS has none on it "
            "(and no one removed it through the portal).",
        ),
    ):
        for meeting in _soonest(meetings):
            found.append(_finding(run, kind, meeting, words))
    return found


def _soonest(meetings: QuerySet[Meeting]) -> list[Meeting]:
    return list(
        meetings.select_related("integration__credential").order_by("starts_at", "pk")[:PER_KIND]
    )


def _duplicates(run: Reconciliation, with_bot: QuerySet[Meeting]) -> list[ReconciliationFinding]:
    """One finding per bot too many: copies of one meeting (calendars/meetings/sharing.py: the
    same meeting key, starts within a minute of each other, within the policy's scope) that
    each have a bot. Under "one bot per calendar" copies are meant to have one each. The copy
    chosen to carry the bot keeps it, else the organizer's calendar's, else the copy the portal
    saw first."""
    shared = with_bot.exclude(same_meeting_key="").exclude(
        integration__credential__customer__bot_policy__bot_scope=BotPolicy.Scope.CALENDAR
    )
    # Each copy with a bot that another meeting with a bot and its key meets within a minute
    # (the key's index alone: whose that one is, and its scope, the groups below sort out), the
    # soonest first. A group of n copies gives n - 1 findings, so twice a run's findings in
    # copies is enough.
    twin = (
        Meeting.objects.filter(
            sharing.at(OuterRef("same_meeting_key"), OuterRef("starts_at")),
            has_bot=True,
            is_cancelled=False,
        )
        .exclude(same_meeting_key="")
        .exclude(pk=OuterRef("pk"))
    )
    doubled = list(
        shared.filter(Exists(twin))
        .select_related("integration__credential", "shared_meeting")
        .order_by("starts_at", "pk")[: PER_KIND * 2]
    )
    if not doubled:
        return []
    scopes = _scopes({meeting.integration.credential.customer_id for meeting in doubled})
    # A group's copies start within a minute of its first (as sharing.copies finds them): read
    # in start order, a copy joins the last group opened for its key, or opens one.
    copies: dict[sharing.Group, list[Meeting]] = defaultdict(list)
    opened: dict[tuple[int, str, str], sharing.Group] = {}
    for meeting in doubled:
        group = sharing.group_of(meeting, scopes[meeting.integration.credential.customer_id])
        if group is None:
            continue
        last = opened.get((group.customer_id, group.scope_group, group.key))
        if last is None or group.starts_at - last.starts_at > sharing.WITHIN:
            last = opened[(group.customer_id, group.scope_group, group.key)] = group
        copies[last].append(meeting)
    found = []
    for group in copies.values():
        if len(group) < 2:  # alone in its scope (another e-mail domain's copy has the other)
            continue
        keeper = _keeper(group)
        account = keeper.integration.credential.account_email
        for meeting in group:
            # A person's "always" on a copy wants its own bot: not one too many.
            if meeting is not keeper and meeting.bot_override != Meeting.Override.ALWAYS:
                words = (
                    f"{len(group)} bots at Meeting BaaS for one meeting: the one on {account}'s "
                    f"calendar (meeting {keeper.pk}) stays; this copy's is one too many."
                )
                found.append(_finding(run, Kind.DUPLICATE_BOT, meeting, words))
    return found[:PER_KIND]


def _scopes(customer_ids: set[int]) -> dict[int, str]:
    """Each customer's policy scope (the default one's where it has no policy)."""
    held = dict(
        BotPolicy.objects.filter(customer_id__in=customer_ids).values_list(
            "customer_id", "bot_scope"
        )
    )
    return {c: held.get(c, BotPolicy.Scope.CUSTOMER) for c in customer_ids}


def _keeper(copies: list[Meeting]) -> Meeting:
    """The copy whose bot stays: the one chosen to carry it, else the organizer's
    calendar's, else the first seen."""
    for meeting in copies:
        shared = meeting.shared_meeting
        if shared is not None and shared.carrier_id == meeting.pk:
            return meeting
    for meeting in copies:
        account = meeting.integration.credential.account_email
        if meeting.organizer_email and account.lower() == meeting.organizer_email.lower():
            return meeting
    return copies[0]


def _finding(
    run: Reconciliation, kind: str, meeting: Meeting, differences: str
) -> ReconciliationFinding:
    integration = meeting.integration
    return ReconciliationFinding(
        run=run,
        kind=kind,
        api_version=integration.api_version,
        remote_id=meeting.remote_event_id,
        account_email=fit(
            ReconciliationFinding, "account_email", integration.credential.account_email
        ),
        platform=fit(ReconciliationFinding, "platform", integration.provider),
        differences=fit(ReconciliationFinding, "differences", differences),
        integration=integration,
        meeting=meeting,
    )


# --- what an admin does with a bot finding -------------------------------------------------


def remove_duplicate_bot(finding_id: int, *, acting_user: AbstractBaseUser | None) -> Meeting:
    """Remove the bot of a duplicate's copy at Meeting BaaS, once checked again that another
    copy still has its bot."""
    finding, meeting = _open(finding_id, Kind.DUPLICATE_BOT, REMOVE_DUPLICATE, acting_user)
    scope = _scopes({meeting.integration.credential.customer_id}).popitem()[1]
    group = sharing.group_of(meeting, scope)
    others = (
        sharing.copies(group).filter(has_bot=True, is_cancelled=False).exclude(pk=meeting.pk)
        if group is not None
        else Meeting.objects.none()
    )
    if not meeting.has_bot or not others.exists():
        _settle(finding, "No longer a duplicate: no other copy has a bot, or this one has none.")
        _refuse(finding, REMOVE_DUPLICATE, acting_user, "It is no longer a duplicate.")
    if meeting.bot_override == Meeting.Override.ALWAYS:
        why = "A person set this copy to always be recorded: its bot is wanted."
        _settle(finding, why)
        _refuse(finding, REMOVE_DUPLICATE, acting_user, why)
    outcome = bots.remove([meeting.pk], acting_user=acting_user)[0]
    return _done(finding, meeting, outcome, REMOVE_DUPLICATE, Outcome.BOT_REMOVED, acting_user)


def schedule_missing_bot(finding_id: int, *, acting_user: AbstractBaseUser | None) -> Meeting:
    """Schedule the bot the policy wanted, once checked again that the meeting still has none."""
    finding, meeting = _open(finding_id, Kind.MISSING_BOT, SCHEDULE_MISSING, acting_user)
    if meeting.has_bot:
        _settle(finding, "It has its bot now.")
        _refuse(finding, SCHEDULE_MISSING, acting_user, "It has its bot now.")
    if not carrying_its_own(Meeting.objects.filter(pk=meeting.pk)).exists():
        why = (
            "Another calendar's copy of the meeting carries its bot: a second would be a duplicate."
        )
        _settle(finding, why)
        _refuse(finding, SCHEDULE_MISSING, acting_user, why)
    outcome = bots.schedule([meeting.pk], acting_user=acting_user)[0]
    return _done(finding, meeting, outcome, SCHEDULE_MISSING, Outcome.BOT_SCHEDULED, acting_user)


def _open(
    finding_id: int, kind: str, action: str, acting_user: AbstractBaseUser | None
) -> tuple[ReconciliationFinding, Meeting]:
    finding = ReconciliationFinding.objects.select_related("run").get(pk=finding_id)
    if finding.kind != kind:
        _refuse(finding, action, acting_user, "This finding is of another kind.")
    if finding.outcome != Outcome.OPEN:
        outcome = finding.get_outcome_display().lower()
        _refuse(finding, action, acting_user, f"This finding is {outcome} already.")
    meeting = (
        Meeting.objects.select_related("integration__credential")
        .filter(pk=finding.meeting_id)
        .first()
    )
    if meeting is None or meeting.is_cancelled or meeting.starts_at <= timezone.now():
        _settle(finding, "The meeting is gone, cancelled or has begun.")
        _refuse(finding, action, acting_user, "The meeting is gone, cancelled or has begun.")
    return finding, meeting


def _done(
    finding: ReconciliationFinding,
    meeting: Meeting,
    outcome: bots.Outcome,
    action: str,
    resolved_as: str,
    acting_user: AbstractBaseUser | None,
) -> Meeting:
    message = f"{_named(finding)}: {outcome.message}"
    record_action(
        acting_user,
        action,
        integration=meeting.integration,
        succeeded=outcome.succeeded,
        message=message,
    )
    outcomes.refresh([meeting.pk])
    if not outcome.succeeded:
        raise BotFindingRefused(outcome.message)
    ReconciliationFinding.objects.filter(pk=finding.pk, outcome=Outcome.OPEN).update(
        outcome=resolved_as,
        reason=fit(ReconciliationFinding, "reason", outcome.message),
        resolved_at=timezone.now(),
        resolved_by=acting_user if acting_user and acting_user.is_authenticated else None,
    )
    return meeting


def _settle(finding: ReconciliationFinding, reason: str) -> None:
    ReconciliationFinding.objects.filter(pk=finding.pk, outcome=Outcome.OPEN).update(
        outcome=Outcome.SETTLED, reason=reason, resolved_at=timezone.now()
    )


def _refuse(
    finding: ReconciliationFinding, action: str, acting_user: AbstractBaseUser | None, why: str
) -> NoReturn:
    record_action(acting_user, action, succeeded=False, message=f"{_named(finding)}: {why}")
    raise BotFindingRefused(why)


def _named(finding: ReconciliationFinding) -> str:
    kind = finding.get_kind_display().split(":")[0].lower()
    return f"Meeting BaaS event {finding.remote_id}, a {kind} found by {finding.run}"
