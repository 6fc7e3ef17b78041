"""The recording rules at work: the facts they read, derived from an event as it is mirrored
(never its attendees), and the rules applied to the meetings the policy would ask a bot for.

A customer's domains are those its policy lists, or else the domains of its accounts'
e-mails. Facts are derived when the event comes: a change of domains reaches a meeting when
its event next comes (v1 lists attendees on every sync; v2 only in an event's details, which
are fetched once, by the policy's task, for a meeting whose rules need them).
"""

from __future__ import annotations

import logging
from collections import defaultdict

from django.db.models import QuerySet, Value
from django.db.models.functions import Lower, StrIndex, Substr

from calendars.lib.remote_values import fit
from calendars.meetingbaas import client
from calendars.meetingbaas.types import RemoteEvent
from calendars.meetings import rules
from calendars.models import BotAttempt, BotPolicy, Credential, Integration, Meeting
from calendars.problems import PROBLEMS

logger = logging.getLogger(__name__)
# The facts whose change sends a meeting back to the policy (mirror.WATCHED).
WATCHED = ("is_tentative", "is_organizer", "has_external_attendees")
FACTS = ("title", "is_recurring", *WATCHED)
OVERRIDE_ACTIONS = (
    BotAttempt.Action.ALWAYS,
    BotAttempt.Action.NEVER,
    BotAttempt.Action.FOLLOW_RULES,
)


def rules_of(policy: BotPolicy) -> rules.Rules:
    """The policy's recording rules, its word list bounded."""
    words = [w[: rules.MAX_WORD_CHARS] for w in rules.lines(policy.skipped_title_words)]
    return rules.Rules(
        customer=policy.customer.name if policy.customer_id else "the customer",
        attendees=policy.attendees,
        organizer_only=policy.organizer_only,
        one_off_only=policy.one_off_only,
        confirmed_only=policy.confirmed_only,
        skipped_title_words=tuple(words[: rules.MAX_WORDS]),
    )


def customer_domains(customer_id: int) -> frozenset[str]:
    """The domains inside the customer: its policy's list, or its accounts' e-mail domains."""
    listed = (
        BotPolicy.objects.filter(customer_id=customer_id)
        .values_list("internal_domains", flat=True)
        .first()
    )
    domains = rules.domains(listed or "")
    if not domains:
        at = StrIndex("account_email", Value("@"))
        domains = list(
            Credential.objects.filter(customer_id=customer_id)
            .annotate(domain=Lower(Substr("account_email", at + 1)))
            .values_list("domain", flat=True)
            .distinct()[: rules.MAX_DOMAINS]
        )
    return frozenset(d for d in domains[: rules.MAX_DOMAINS] if d)


class FactsOf:
    """The fact columns of one integration's events; its customer's domains are read once,
    and only for news that lists attendees."""

    def __init__(self, integration: Integration) -> None:
        self.integration_id = integration.pk
        self.known: tuple[frozenset[str], str] | None = None

    def __call__(self, event: RemoteEvent) -> dict:
        if (event.attendee_domains, event.is_organizer, event.declined_by) == (None, None, None):
            return {}
        if self.known is None:
            customer_id, email = (
                Integration.objects.filter(pk=self.integration_id)
                .values_list("credential__customer_id", "credential__account_email")
                .get()
            )
            self.known = (customer_domains(customer_id), email)
        return facts_from(event, *self.known)


def facts_from(event: RemoteEvent, inside: frozenset[str], account_email: str) -> dict:
    """The meeting's fact columns the event gives (a fact it does not give is left out)."""
    facts = {}
    if event.attendee_domains is not None:
        facts["has_external_attendees"] = any(
            rules.is_outside(domain, inside) for domain in event.attendee_domains
        )
    if event.is_organizer is not None:
        facts["is_organizer"] = event.is_organizer
    elif event.attendee_domains is not None:
        # v2's details name the organizer, not whether it is the calendar's account.
        organizer = (event.organizer_email or "").lower()
        facts["is_organizer"] = bool(organizer) and organizer == account_email.lower()
    if event.declined_by is not None:
        # The calendar's account declined: its bot goes (calendars/meetings/follow.py).
        facts["is_declined"] = event.self_declined or account_email.lower() in event.declined_by
    return facts


def facts_of(meeting: Meeting, override_by: str = "") -> rules.Facts:
    return rules.Facts(
        title=meeting.title,
        is_recurring=meeting.is_recurring,
        is_tentative=meeting.is_tentative,
        is_organizer=meeting.is_organizer,
        has_external_attendees=meeting.has_external_attendees,
        override=meeting.bot_override,
        override_by=override_by,
    )


def worth_asking(policy: BotPolicy, meetings: QuerySet[Meeting]) -> list[int]:
    """Of `meetings` (those a "record every meeting" policy would ask a bot for), the ids the
    rules record or cannot decide yet; each one they skip keeps the rule's words."""
    chosen = rules_of(policy)
    wanted: list[int] = []
    reasons: dict[str, list[int]] = defaultdict(list)
    for row in meetings.values("pk", "bot_override", "rule_reason", *FACTS):
        facts = rules.Facts(override=row["bot_override"], **{f: row[f] for f in FACTS})
        decision = rules.decide(chosen, facts)
        asking = decision.record or rules.undecided(chosen, facts)
        if asking:
            wanted.append(row["pk"])
        reason = "" if asking else decision.reason
        if row["rule_reason"] != reason:
            reasons[reason].append(row["pk"])
    _keep_reasons(reasons)
    return wanted


def _keep_reasons(reasons: dict[str, list[int]]) -> None:
    """Write the rule that skipped each meeting ("" for one the policy asks a bot for)."""
    for reason, ids in reasons.items():
        Meeting.objects.filter(pk__in=ids).update(rule_reason=fit(Meeting, "rule_reason", reason))


def still_wanted(meeting: Meeting, policy: BotPolicy) -> bool:
    """The rules' last word before the policy's task asks for the meeting's bot: the facts a
    rule needs and the calendar has not given are fetched first (v2's event details)."""
    chosen = rules_of(policy)
    if rules.undecided(chosen, facts_of(meeting)):
        learn_facts(meeting)
    decision = rules.decide(chosen, facts_of(meeting))
    reason = fit(Meeting, "rule_reason", "" if decision.record else decision.reason)
    if meeting.rule_reason != reason:  # as read with the meeting: mostly written by `consider`
        _keep_reasons({reason: [meeting.pk]})
        meeting.rule_reason = reason
    return decision.record


def learn_facts(meeting: Meeting) -> None:
    """Fetch the meeting's event details and keep the facts they give (attendees and organizer:
    v2 lists neither). A failure is logged: the next sync asks again."""
    integration: Integration = meeting.integration
    try:
        event = client(integration.api_version).get_event(
            integration.remote_id, meeting.remote_event_id
        )
    except PROBLEMS as exc:
        logger.info("event details of meeting %s not fetched: %s", meeting.pk, exc)
        return
    facts = FactsOf(integration)(event)
    if event.organizer_email:
        facts["organizer_email"] = fit(Meeting, "organizer_email", event.organizer_email)
    if not facts:
        return
    Meeting.objects.filter(pk=meeting.pk).update(**facts)
    for name, value in facts.items():
        setattr(meeting, name, value)


def override_by(meeting: Meeting) -> str:
    """Who set the meeting's override (its last override action)."""
    return (
        BotAttempt.objects.filter(meeting=meeting, action__in=OVERRIDE_ACTIONS, succeeded=True)
        .values_list("username", flat=True)
        .first()
        or ""
    )
