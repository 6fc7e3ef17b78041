"""One bot per meeting: the copies of one meeting in several of a customer's calendars.

Copies are the customer's meetings with the same key (the meeting their URL names,
calendars/meetings/identity.py) starting within a minute of each other; the bot policy's
scope says whose copies count together: the whole customer's, those of accounts of one
e-mail domain, or none (one bot per calendar, each copy on its own).

The first look at a copy (by the policy, before it asks for a bot) makes the meeting's
`SharedMeeting` and chooses its carrier among the copies the recording rules and a person's
override do not skip: a copy that has a bot already, else the organizer's own (the calendar
account organizes it), else the copy first seen. Only the carrier gets a bot; the other
copies are covered by it. Two workers looking at two copies at once make
the row once: the unique constraint refuses the second (which then reads the first's), and on
PostgreSQL a transaction lock on the meeting's key serialises the look, so copies whose
starts straddle a minute's edge are found too.

A carrier that can no longer carry the bot (cancelled or declined in its calendar, its
connection not active, gone from the mirror) is replaced by another copy before the meeting:
`needing_a_move` finds them, `calendars.meetings.bots.move_bots` moves the bot.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Coalesce, Concat
from django.utils import timezone

from calendars.meetings import recording
from calendars.models import BotPolicy, Meeting, SharedMeeting
from calendars.status import PortalStatus

# What a move records on the copy that loses the bot, and on the one that takes it.
MOVED_TO = "Moved to {account}'s calendar: {why}. "
MOVED_FROM = "From {account}'s calendar: {why}. "
# Copies of one meeting start within this of each other.
WITHIN = timedelta(minutes=1)
Scope = BotPolicy.Scope


@dataclass(frozen=True)
class Group:
    """Whose copies of a meeting share its bot: the customer's, within a scope, by key."""

    customer_id: int
    scope_group: str
    key: str
    starts_at: datetime


def domain_of(email: str) -> str:
    return email.rpartition("@")[2].strip().lower()


def group_of(meeting: Meeting, scope: str) -> Group | None:
    """The group `meeting` (with its integration's credential) belongs to; None when it has
    no key or each calendar has its own bot."""
    if scope == Scope.CALENDAR or not meeting.same_meeting_key:
        return None
    credential = meeting.integration.credential
    within = domain_of(credential.account_email) if scope == Scope.DOMAIN else ""
    return Group(credential.customer_id, within, meeting.same_meeting_key, meeting.starts_at)


def at(key: object, starts_at: object, key_field: str = "same_meeting_key") -> Q:
    """The rows of the meeting `key` names starting within a minute of `starts_at` (values, or
    expressions such as OuterRef): the one definition of "the same meeting" in time."""
    return Q(
        **{key_field: key},
        starts_at__gte=starts_at - WITHIN,
        starts_at__lte=starts_at + WITHIN,
    )


def copies(group: Group) -> QuerySet[Meeting]:
    """The group's copies in the mirror (through the (key, start) index)."""
    found = Meeting.objects.filter(
        at(group.key, group.starts_at),
        integration__credential__customer_id=group.customer_id,
    )
    if group.scope_group:
        domain = f"@{group.scope_group}"
        found = found.filter(integration__credential__account_email__iendswith=domain)
    return found


def copies_of(shared: SharedMeeting) -> QuerySet[Meeting]:
    """The copies that joined `shared`, and any at its first start that did not yet."""
    at_start = copies(Group(shared.customer_id, shared.scope_group, shared.key, shared.starts_at))
    return at_start | Meeting.objects.filter(shared_meeting=shared)


def able_to_carry(meetings: QuerySet[Meeting], now: datetime | None = None) -> QuerySet[Meeting]:
    """Copies a bot can still be scheduled on: to come, neither cancelled nor declined, their
    calendar active, not skipped by the recording rules or a person."""
    return meetings.filter(
        is_cancelled=False,
        is_declined=False,
        starts_at__gt=now or timezone.now(),
        integration__status=PortalStatus.ACTIVE,
        rule_reason="",
    ).exclude(bot_override=Meeting.Override.NEVER)


def choose(candidates: QuerySet[Meeting]) -> Meeting | None:
    """The copy to carry the bot: one with a bot already (no second one), else the
    organizer's own calendar's, else the first seen."""
    return _best(_ranked(candidates), organizer="")


def _ranked(candidates: QuerySet[Meeting]) -> list[Meeting]:
    return list(candidates.select_related("integration__credential").order_by("pk"))


def _best(ranked: list[Meeting], organizer: str) -> Meeting | None:
    # The copies of a meeting share its organizer: one copy naming it (or `organizer`,
    # learned from an event's details) names it for all.
    named = next((m.organizer_email for m in ranked if m.organizer_email), organizer)

    def rank(meeting: Meeting) -> tuple[bool, bool, int]:
        account = meeting.integration.credential.account_email.lower()
        email = (meeting.organizer_email or named).lower()
        organizes = meeting.is_organizer or (bool(email) and email == account)
        return (not meeting.has_bot, not organizes, meeting.pk)

    return min(ranked, key=rank, default=None)


def _needs_organizer(ranked: list[Meeting]) -> bool:
    """Whether the choice among `ranked` waits on an organizer no copy names (v2 names it only
    in an event's details)."""
    decided = any(m.has_bot or m.is_organizer or m.organizer_email for m in ranked)
    return len(ranked) > 1 and not decided


def carrier_for(meeting: Meeting, scope: str) -> Meeting:
    """The copy of `meeting` that is to carry its bot: `meeting` itself when it is not shared
    (or nothing better can carry it). Makes the group on its first look."""
    group = group_of(meeting, scope)
    if group is None:
        return meeting
    organizer, asked = "", False
    while True:
        with transaction.atomic():
            _lock(group)
            shared = _held(group)
            if shared is None:
                ranked = _ranked(able_to_carry(copies(group)))
                if asked or not _needs_organizer(ranked):
                    shared = _create(group, _best(ranked, organizer) or meeting)
            if shared is not None:
                copies(group).filter(shared_meeting__isnull=True).update(shared_meeting=shared)
                return shared.carrier or meeting
        # Asked of Meeting BaaS with no lock held (a call may take seconds), then looked at
        # again: another worker may have made the group meanwhile.
        organizer, asked = _organizer(meeting), True


def _organizer(meeting: Meeting) -> str:
    """The meeting's organizer, from its event's details when the calendar did not name it
    (v2 names it there only); "" when they could not be read."""
    if not meeting.organizer_email:
        recording.learn_facts(meeting)
    return meeting.organizer_email


def carry(meeting: Meeting) -> None:
    """Make `meeting` the carrier of its shared meeting (the one chosen could not carry)."""
    SharedMeeting.objects.filter(pk=meeting.shared_meeting_id).update(carrier=meeting)


def _held(group: Group) -> SharedMeeting | None:
    """The group's row: made for its start, or joined by a copy at another (the meeting was
    moved since: its copies moved with it, the row kept its first start)."""
    made_then = SharedMeeting.objects.filter(
        at(group.key, group.starts_at, key_field="key"),
        customer_id=group.customer_id,
        scope_group=group.scope_group,
    ).values("pk")
    joined = copies(group).exclude(shared_meeting=None).values("shared_meeting_id")
    # One UNION, not an OR of the two: PostgreSQL answers the OR by walking every row.
    return (
        SharedMeeting.objects.select_for_update(of=("self",))
        .select_related("carrier__integration__credential")
        .filter(pk__in=made_then.union(joined))
        .order_by("pk")
        .first()
    )


def _create(group: Group, carrier: Meeting) -> SharedMeeting:
    # Under PostgreSQL's lock no other row of this meeting can appear: no savepoint needed.
    try:
        with transaction.atomic(savepoint=connection.vendor != "postgresql"):
            return SharedMeeting.objects.create(
                customer_id=group.customer_id,
                scope_group=group.scope_group,
                key=group.key,
                starts_at=group.starts_at,
                starts_minute=group.starts_at.replace(second=0, microsecond=0),
                carrier=carrier,
            )
    except IntegrityError:
        # Another worker made it first (its transaction is over: the constraint waited for it).
        held = _held(group)
        if held is None:
            raise
        return held


def _lock(group: Group) -> None:
    """On PostgreSQL, hold a transaction lock on the group's key, so one worker at a time
    looks for its row (and a copy a minute's edge away finds it)."""
    if connection.vendor != "postgresql":
        return  # SQLite has one writer at a time
    name = f"{group.customer_id}\x00{group.scope_group}\x00{group.key}".encode()
    lock_id = int.from_bytes(hashlib.blake2b(name, digest_size=8).digest(), "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_id])


def needing_a_move(now: datetime | None = None) -> QuerySet[SharedMeeting]:
    """Shared meetings to come whose carrier can no longer carry their bot and another copy
    can, the soonest first.

    A calendar that breaks breaks the carrier of each of its meetings, most of them the only
    copy: left in, they would be read again every minute and, past one run's share, keep the
    meetings that can move waiting.
    """
    now = now or timezone.now()
    broken = (
        Q(carrier__isnull=True)
        | Q(carrier__is_cancelled=True)
        | Q(carrier__is_declined=True)
        | ~Q(carrier__integration__status=PortalStatus.ACTIVE)
    )
    able = able_to_carry(Meeting.objects.all(), now).exclude(
        pk=Coalesce(OuterRef("carrier_id"), Value(0))
    )
    joined = able.filter(shared_meeting=OuterRef("pk"))
    # Copies at its first start that did not join it yet (as copies_of finds them).
    # (Never keyless: the partial index on keys serves it.)
    at_start = able.exclude(same_meeting_key="").filter(
        at(OuterRef("key"), OuterRef("starts_at")),
        integration__credential__customer_id=OuterRef("customer_id"),
    )
    # Within one e-mail domain's scope, that domain's accounts' copies only (as copies does).
    in_domain = at_start.filter(
        integration__credential__account_email__iendswith=Concat(
            Value("@"), OuterRef("scope_group")
        )
    )
    # The broken ones first (a join), then whether a copy can take over (two lookups each).
    broken_ids = SharedMeeting.objects.filter(broken, starts_at__gt=now).values("pk")
    return (
        SharedMeeting.objects.filter(pk__in=broken_ids)
        .filter(
            Exists(joined)
            | (Q(scope_group="") & Exists(at_start))
            | (~Q(scope_group="") & Exists(in_domain))
        )
        .order_by("starts_at", "pk")
    )


def why_it_moves(carrier: Meeting | None) -> str:
    """Why a carrier no longer carries the bot, in support's words."""
    if carrier is None:
        return "its copy left the calendar"
    if carrier.is_cancelled:
        return "it was cancelled in that calendar"
    if carrier.is_declined:
        return "its account declined it"
    return f"that calendar connection is {carrier.integration.status}"
