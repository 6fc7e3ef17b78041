"""One customer as support starts from it: accounts, calendars, problems, history, a ticket text.

Everything here reads; the customer page (admin/accounts.py) presents it and the ticket summary
is plain text for a Meeting BaaS support ticket, pasted outside the portal: no client secret or
refresh token is ever revealed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from calendars.models import (
    ActionRecord,
    Credential,
    Customer,
    Integration,
    Meeting,
    RawCalendar,
    StatusChange,
    WebhookDelivery,
)
from calendars.queries import missed
from calendars.queries.dashboard import Problem, problem_kinds
from calendars.queries.diagnosis import diagnosis_of
from calendars.status import PortalStatus

# A customer has a handful of accounts and calendars; these bounds keep a page (and a ticket)
# readable for the rare one with hundreds, whose full lists are one link away.
LIST_LIMIT = 200
TIMELINE_LIMIT = 100
# The ticket carries the newest events only: Meeting BaaS support asks for what just happened.
TICKET_EVENTS = 20
# "Why did no bot join my meeting this morning?": the meetings of the day before and the day
# after now, at most this many on the page (a customer with hundreds of calendars has
# thousands); the Meetings list, filtered to the customer and those days, has the rest.
MEETINGS_AROUND = timedelta(days=1)
MEETINGS_SHOWN = 50
# The customer page's count of recorded and missed meetings covers this many days.
WEEK_DAYS = 7


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # status, action, webhook
    who: str
    summary: str
    integration: Integration | None = None
    credential: Credential | None = None


@dataclass(frozen=True)
class CalendarRow:
    raw: RawCalendar
    live_integration: Integration | None


@dataclass(frozen=True)
class CustomerOverview:
    customer: Customer
    credentials: list[Credential]
    calendars: list[CalendarRow]
    integrations: list[Integration]
    integration_count: int
    problems: list[Problem]
    last_webhook: WebhookDelivery | None
    timeline: list[TimelineEntry]
    at: datetime


@dataclass(frozen=True)
class MeetingsAround:
    """The customer's meetings starting within MEETINGS_AROUND of `at`: at most
    MEETINGS_SHOWN of `count` in the order they start, each with its integration, calendar and
    account."""

    meetings: list[Meeting]
    count: int
    since: datetime
    until: datetime


def meetings_around(customer: Customer, at: datetime) -> MeetingsAround:
    """The customer's meetings of the last day and the next, in two queries however many."""
    since, until = at - MEETINGS_AROUND, at + MEETINGS_AROUND
    found = Meeting.objects.filter(
        integration__credential__customer=customer, starts_at__gte=since, starts_at__lt=until
    )
    shown = found.select_related("integration__raw_calendar", "integration__credential")
    meetings = list(shown.order_by("starts_at", "pk")[:MEETINGS_SHOWN])
    count = len(meetings) if len(meetings) < MEETINGS_SHOWN else found.count()
    return MeetingsAround(meetings, count, since, until)


@dataclass(frozen=True)
class WeekOutcomes:
    """What became of the customer's meetings that ended over `days`: recorded, and missed by
    cause."""

    days: missed.Days
    recorded: int
    missed: list[missed.Group]

    @property
    def missed_count(self) -> int:
        return sum(group.count for group in self.missed)


def last_week(customer: Customer, now: datetime) -> WeekOutcomes:
    """The customer's last 7 days (today among them) in two grouped queries."""
    today = timezone.localdate(now)
    days = missed.Days(today - timedelta(days=WEEK_DAYS - 1), today)
    filters = missed.Filters(days, customer_ids=[customer.pk])
    recorded = Meeting.objects.filter(
        integration__credential__customer=customer,
        outcome=Meeting.Outcome.RECORDED,
        starts_at__gte=days.start,
        starts_at__lt=days.end,
    ).count()
    return WeekOutcomes(days, recorded, missed.by_cause(missed.missed(filters, now)))


def with_integration_counts(customers: QuerySet[Customer]) -> QuerySet[Customer]:
    """`customers`, each with `integrations_<status>` counts, in the same single query."""
    return customers.annotate(
        **{
            f"integrations_{status}": Count(
                "credentials__integrations",
                filter=Q(credentials__integrations__status=status),
            )
            for status in PortalStatus
        }
    )


def integration_counts(customer: Customer) -> list[tuple[PortalStatus, int]]:
    """The non-zero counts `with_integration_counts` annotated on `customer`, by status."""
    counts = [(status, getattr(customer, f"integrations_{status}")) for status in PortalStatus]
    return [(status, count) for status, count in counts if count]


def customer_overview(customer: Customer) -> CustomerOverview:
    """What the customer page shows, read in a fixed number of queries."""
    integrations = Integration.objects.filter(credential__customer=customer)
    credentials = customer.credentials.select_related("oauth_app").order_by("account_email")
    listed = integrations.select_related("raw_calendar", "credential").order_by(
        "credential__account_email", "raw_calendar__name", "pk"
    )
    webhooks = _webhooks(customer)
    return CustomerOverview(
        customer=customer,
        credentials=list(credentials[:LIST_LIMIT]),
        calendars=_calendars(customer),
        integrations=list(listed[:LIST_LIMIT]),
        integration_count=integrations.count(),
        problems=open_problems(customer),
        last_webhook=webhooks[0] if webhooks else None,
        timeline=_timeline(customer, webhooks),
        at=timezone.now(),
    )


def open_problems(customer: Customer, limit: int = LIST_LIMIT) -> list[Problem]:
    """The customer's integrations on the needs-attention worklist, longest-broken first.

    The worklist's own kinds of problem (`dashboard.problem_kinds`), scoped to one customer
    and ordered as `dashboard.needs_attention` orders them.
    """
    now = timezone.now()
    found: list[Problem] = []
    for kind in problem_kinds(now):
        rows = kind.rows.filter(credential__customer=customer)
        rows = rows.select_related("raw_calendar", "credential").order_by(kind.since_field, "pk")
        for integration in rows[:limit]:
            diagnosis = diagnosis_of(integration) if kind.diagnosed else None
            found.append(
                Problem(integration, kind, diagnosis, getattr(integration, kind.since_field))
            )
    found.sort(key=lambda p: (p.kind.ahead, p.moment or now, p.integration.pk))
    return found[:limit]


def _calendars(customer: Customer) -> list[CalendarRow]:
    raws = list(
        RawCalendar.objects.filter(credential__customer=customer)
        .select_related("credential")
        .order_by("credential__account_email", "-is_primary", "name", "pk")[:LIST_LIMIT]
    )
    live = {i.raw_calendar_id: i for i in Integration.objects.live().filter(raw_calendar__in=raws)}
    return [CalendarRow(raw, live.get(raw.pk)) for raw in raws]


def _webhooks(customer: Customer) -> list[WebhookDelivery]:
    deliveries = WebhookDelivery.objects.filter(integration__credential__customer=customer)
    deliveries = deliveries.select_related("integration__raw_calendar")
    return list(deliveries.order_by("-received_at", "-id")[:TIMELINE_LIMIT])


def _timeline(customer: Customer, webhooks: list[WebhookDelivery]) -> list[TimelineEntry]:
    """Status changes, action records and webhook deliveries of the customer, newest first."""
    statuses = (
        StatusChange.objects.filter(integration__credential__customer=customer)
        .select_related("integration__raw_calendar", "user")
        .order_by("-changed_at", "-id")[:TIMELINE_LIMIT]
    )
    actions = (
        ActionRecord.objects.filter(
            Q(integration__credential__customer=customer) | Q(credential__customer=customer)
        )
        .select_related("integration__raw_calendar", "credential__oauth_app")
        .order_by("-at", "-id")[:TIMELINE_LIMIT]
    )
    entries = [
        *(_status_entry(s) for s in statuses),
        *(_action_entry(a) for a in actions),
        *(_webhook_entry(w) for w in webhooks),
    ]
    return sorted(entries, key=lambda e: e.at, reverse=True)[:TIMELINE_LIMIT]


def _status_entry(change: StatusChange) -> TimelineEntry:
    text = f"{change.from_status or '∅'} → {change.to_status} ({change.get_cause_display()})"
    if change.message:
        text += f": {change.message}"
    who = change.user.get_username() if change.user else "system"
    return TimelineEntry(change.changed_at, "status", who, text, change.integration)


def _action_entry(record: ActionRecord) -> TimelineEntry:
    text = f"{record.action} ({record.outcome})" + (f": {record.message}" if record.message else "")
    return TimelineEntry(
        record.at, "action", record.username, text, record.integration, record.credential
    )


def _webhook_entry(delivery: WebhookDelivery) -> TimelineEntry:
    text = f"{delivery.event}: {delivery.get_outcome_display()}"
    if delivery.error:
        text += f": {delivery.error}"
    return TimelineEntry(
        delivery.received_at, "webhook", "Meeting BaaS", text, delivery.integration
    )


def ticket_summary(overview: CustomerOverview) -> str:
    """Plain text for a Meeting BaaS support ticket: ids, statuses, the API's exact messages."""
    customer = overview.customer
    lines = [
        f"Customer: {customer.name}"
        + (f" (our reference: {customer.external_ref})" if customer.external_ref else ""),
        f"Summary taken at {_when(overview.at)}.",
        "",
        f"Integrations ({overview.integration_count}):",
    ]
    for integration in overview.integrations:
        lines += _integration_lines(integration)
    if overview.integration_count > len(overview.integrations):
        lines.append(f"- … and {overview.integration_count - len(overview.integrations)} more")
    lines += ["", "Accounts:"]
    for credential in overview.credentials:
        lines += _credential_lines(credential)
    webhook = overview.last_webhook
    lines += [
        "",
        "Last webhook received: "
        + (
            f"{webhook.event} (delivery {webhook.delivery_id}, Meeting BaaS id "
            f"{webhook.remote_id or 'none'}) at {_when(webhook.received_at)}: "
            f"{webhook.get_outcome_display()}"
            if webhook
            else "none"
        ),
        "",
        f"Newest events (up to {TICKET_EVENTS}):",
    ]
    for entry in overview.timeline[:TICKET_EVENTS]:
        target = (
            f"Meeting BaaS id {entry.integration.remote_id}"
            if entry.integration
            else entry.credential.account_email
            if entry.credential
            else customer.name
        )
        lines.append(f"- {_when(entry.at)}, {entry.kind}, {target}: {entry.summary}")
    return "\n".join(lines) + "\n"


def _integration_lines(integration: Integration) -> list[str]:
    facts = [
        ("Status", integration.status),
        ("Status since", _when(integration.status_changed_at)),
        ("Error message", integration.error_message),
        ("Remote status", integration.remote_status),
        ("Remote status message", integration.remote_status_message),
        ("Sync status", integration.sync_status),
        ("Sync error", integration.sync_error),
        ("Last synced", _when(integration.synced_at)),
        ("Last refreshed", _when(integration.last_refreshed_at)),
    ]
    head = (
        f"- Meeting BaaS id {integration.remote_id} (API {integration.api_version}, "
        f"{integration.get_provider_display()}): calendar {integration.raw_calendar} "
        f"of {integration.credential.account_email}"
    )
    return [head, *(f"    {label}: {value}" for label, value in facts if value)]


def _credential_lines(credential: Credential) -> list[str]:
    if credential.last_check_ok is None:
        check = "never checked"
    else:
        outcome = "worked" if credential.last_check_ok else "failed"
        check = f"last check {outcome} at {_when(credential.last_checked_at)}"
        if credential.last_check_message:
            check += f": {credential.last_check_message}"
    return [f"- {credential.account_email} via {credential.oauth_app}: {check}"]


def _when(moment: datetime | None) -> str:
    """One unambiguous format for a ticket read in another time zone; empty when unknown."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else ""
