"""What the admin home shows support staff: counts, the needs-attention worklist, activity."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from calendars.meetingbaas.types import ApiVersion, Platform
from calendars.models import ActionRecord, Customer, Integration, RefreshRun, StatusChange
from calendars.queries.diagnosis import PATTERNS, UNKNOWN, Diagnosis, diagnose
from calendars.status import Cause, PortalStatus, expiry_horizon

# Rows one grouping query reads (one per distinct message and customer). Past this many, what
# is left is counted, not grouped: a page that must stay fast cannot classify every row of a
# catastrophe, and a person needs the biggest groups first anyway.
GROUPED_ROWS = 2000
# Customers named under each group; the rest are in the group's link.
CUSTOMERS_NAMED = 3
CHART_DAYS = 7
# Every cause the diagnosis can give, in its own order (the most specific first).
CAUSES: tuple[Diagnosis, ...] = tuple(dict.fromkeys([d for _, d in PATTERNS] + [UNKNOWN]))
# The kinds of problem, by code, as the worklist names them. The first two are told apart
# further by their cause (CAUSES); the others are their own cause.
KIND_LABELS = {
    "error": "error",
    "disconnected_remotely": "disconnected remotely",
    "stuck_syncing": "stuck in syncing",
    "subscription_expiring": "push subscription expiring",
    "not_refreshed": "not refreshed lately",
}
# The code of the whole worklist, every kind and cause.
ANY_PROBLEM = "any"


@dataclass(frozen=True)
class Bar:
    label: str
    count: int
    url: str
    css: str


def status_bars() -> list[Bar]:
    counts = dict(Integration.objects.values_list("status").annotate(n=Count("pk")).order_by())
    return [
        Bar(s.value, counts.get(s.value, 0), f"?status__exact={s.value}", f"status-{s.value}")
        for s in PortalStatus
    ]


def provider_bars() -> list[Bar]:
    counts = dict(Integration.objects.values_list("provider").annotate(n=Count("pk")).order_by())
    return [
        Bar(p.value, counts.get(p.value, 0), f"?provider__exact={p.value}", "provider")
        for p in Platform
    ]


@dataclass(frozen=True)
class Kind:
    """One kind of problem, read through its own index.

    Each kind's rows exclude those of the kinds before it, so every integration counts once and
    the totals add up without a query that ORs them all (which would scan the whole table).
    """

    code: str
    next_action: str
    rows: QuerySet
    # The indexed column the kind is read in, oldest first: also when its problem began.
    since_field: str
    # Whether the diagnosis classes (calendars/queries/diagnosis.py) say more than the kind.
    diagnosed: bool = False
    # A problem still ahead (a subscription about to lapse) rather than one that began.
    ahead: bool = False

    @property
    def label(self) -> str:
        return KIND_LABELS[self.code]


def problem_kinds(now: datetime) -> list[Kind]:
    stuck = now - timedelta(minutes=settings.STUCK_SYNCING_MINUTES)
    stale = now - timedelta(minutes=2 * settings.STATUS_REFRESH_MINUTES)
    horizon = expiry_horizon(now)
    replaced = Integration.objects.live().filter(
        raw_calendar=OuterRef("raw_calendar"), pk__gt=OuterRef("pk")
    )
    # Unchanged integrations are confirmed by the refresh run, not row by row: a row is stale
    # only while its version's refresh has not succeeded lately either.
    stale_versions = [
        v
        for v in ApiVersion
        if (RefreshRun.last_success(v) or datetime.min.replace(tzinfo=UTC)) < stale
    ]
    is_stuck = Q(status=PortalStatus.SYNCING, status_changed_at__lt=stuck)
    expiring = Integration.objects.expiring(now).exclude(status=PortalStatus.ERROR)
    return [
        Kind(
            "error",
            "",
            Integration.objects.in_error(),
            "status_changed_at",
            diagnosed=True,
        ),
        Kind(
            "disconnected_remotely",
            "",
            Integration.objects.disconnected()
            .exclude(status_cause=Cause.ADMIN_ACTION)
            .exclude(Exists(replaced)),
            "status_changed_at",
            diagnosed=True,
        ),
        Kind(
            "stuck_syncing",
            "Resync; if it stays in syncing, recreate it from its raw calendar.",
            Integration.objects.filter(is_stuck),
            "status_changed_at",
        ),
        Kind(
            "subscription_expiring",
            "Renewed automatically before it lapses; if it still shows here, use "
            '"Renew push subscription".',
            expiring.exclude(is_stuck),
            "subscription_expires_at",
            ahead=True,
        ),
        Kind(
            "not_refreshed",
            'Use "Refresh status"; if refreshes keep failing, check the worker hosts and '
            "Meeting BaaS.",
            Integration.objects.live()
            .filter(api_version__in=stale_versions, last_refreshed_at__lt=stale)
            .exclude(status=PortalStatus.ERROR)
            .exclude(is_stuck)
            .exclude(subscription_expires_at__lt=horizon),
            "last_refreshed_at",
        ),
    ]


@dataclass(frozen=True)
class Problem:
    integration: Integration
    kind: Kind
    diagnosis: Diagnosis | None
    # When the problem began, or (for a problem still ahead) when it will.
    moment: datetime | None


def needs_attention(limit: int = 50) -> list[Problem]:
    """Integrations someone should look at, the longest-broken first (then what lapses soonest).

    One small indexed query per kind of problem, merged here: each kind is read in the order of
    its own index, the order the merge sorts by, so LIMIT stops early and the merge is exact.
    """
    now = timezone.now()
    found: list[Problem] = []
    for kind in problem_kinds(now):
        rows = kind.rows.select_related("raw_calendar", "credential__customer")
        for integration in rows.order_by(kind.since_field, "pk")[:limit]:
            diagnosis = _diagnosis(integration) if kind.diagnosed else None
            found.append(
                Problem(integration, kind, diagnosis, getattr(integration, kind.since_field))
            )
    found.sort(key=lambda p: (p.kind.ahead, p.moment or now, p.integration.pk))
    return found[:limit]


def _diagnosis(integration: Integration) -> Diagnosis | None:
    return diagnose(integration.status, integration.error_message, integration.remote_status)


@dataclass(frozen=True)
class CustomerShare:
    customer: Customer
    count: int


@dataclass(frozen=True)
class Group:
    """Integrations with one cause: what a person fixes in one go."""

    code: str
    title: str
    next_action: str
    count: int
    customer_count: int
    customers: tuple[CustomerShare, ...]


@dataclass(frozen=True)
class Worklist:
    total: int
    groups: tuple[Group, ...]
    # Integrations counted but not grouped (past GROUPED_ROWS for their kind).
    ungrouped: int


def worklist() -> Worklist:
    """Every integration that needs attention, grouped by cause and customer.

    One aggregate query per kind of problem (by message and customer for the diagnosed kinds,
    whose cause is read from the message; by customer for the others), a COUNT only for a kind
    too large to group, and one query for the customers named.
    """
    now = timezone.now()
    per_cause: dict[str, Counter] = defaultdict(Counter)
    describe: dict[str, tuple[str, str]] = {}
    total = ungrouped = 0
    for kind in problem_kinds(now):
        # In diagnose()'s order: status, message, remote status.
        keys = ("status", "error_message", "remote_status") if kind.diagnosed else ()
        rows = list(
            kind.rows.values_list(*keys, "credential__customer_id")
            .annotate(n=Count("pk"))
            .order_by()[:GROUPED_ROWS]
        )
        grouped = sum(row[-1] for row in rows)
        counted = kind.rows.count() if len(rows) == GROUPED_ROWS else grouped
        total += counted
        ungrouped += counted - grouped
        for *key, customer_id, n in rows:
            diagnosis = diagnose(*key) if kind.diagnosed else None
            code = diagnosis.code if diagnosis else kind.code
            describe[code] = (
                (diagnosis.title, diagnosis.next_action)
                if diagnosis
                else (kind.label.capitalize(), kind.next_action)
            )
            per_cause[code][customer_id] += n
    return Worklist(total, _groups(per_cause, describe), ungrouped)


def _groups(per_cause: dict[str, Counter], describe: dict[str, tuple[str, str]]) -> tuple:
    named = {code: counts.most_common(CUSTOMERS_NAMED) for code, counts in per_cause.items()}
    ids = {customer_id for shares in named.values() for customer_id, _ in shares}
    customers = Customer.objects.in_bulk(ids)
    groups = [
        Group(
            code,
            *describe[code],
            count=sum(counts.values()),
            customer_count=len(counts),
            customers=tuple(CustomerShare(customers[c], n) for c, n in named[code]),
        )
        for code, counts in per_cause.items()
    ]
    return tuple(sorted(groups, key=lambda g: (-g.count, g.title)))


def rows_with_problem(code: str) -> QuerySet:
    """The integrations of one worklist group (a kind's code or a cause's), or of any ("any")."""
    kinds = problem_kinds(timezone.now())
    for kind in kinds:
        if kind.code == code:
            return kind.rows
    if code == ANY_PROBLEM:
        anywhere = Q()
        for kind in kinds:
            anywhere |= Q(pk__in=kind.rows.values("pk"))
        return Integration.objects.filter(anywhere)
    if code not in {cause.code for cause in CAUSES}:
        return Integration.objects.none()
    # The cause is read from the message, in Python (diagnosis.py): classify each distinct
    # message once, then select the rows of each kind that carry a matching one.
    matching = Q(pk__in=[])
    for kind in kinds:
        if not kind.diagnosed:
            continue
        same_cause = Q(pk__in=[])
        triples = kind.rows.values_list("status", "error_message", "remote_status").distinct()
        for status, message, remote_status in triples.order_by():
            diagnosis = diagnose(status, message, remote_status)
            if diagnosis and diagnosis.code == code:
                same_cause |= Q(status=status, error_message=message, remote_status=remote_status)
        matching |= Q(pk__in=kind.rows.filter(same_cause).values("pk"))
    return Integration.objects.filter(matching)


@dataclass(frozen=True)
class DayOfProblems:
    day: date
    # Status changes into a problem that day, by cause code.
    by_cause: dict[str, int]


@dataclass(frozen=True)
class ProblemHistory:
    days: list[DayOfProblems]
    # The title of each cause present, in the diagnosis' order.
    causes: dict[str, str]
    # Whether the status changes carried more distinct messages than GROUPED_ROWS.
    partial: bool


def problems_by_day(days: int = CHART_DAYS) -> ProblemHistory:
    """New problems per day and cause over the last `days` days, today included: one aggregate
    query over the status changes (indexed by time)."""
    today = timezone.localdate()
    first = today - timedelta(days=days - 1)
    start = timezone.make_aware(datetime.combine(first, datetime.min.time()))
    rows = list(
        StatusChange.objects.filter(
            changed_at__gte=start, to_status__in=[PortalStatus.ERROR, PortalStatus.DISCONNECTED]
        )
        # A disconnection someone asked for is history, not a problem.
        .exclude(to_status=PortalStatus.DISCONNECTED, cause=Cause.ADMIN_ACTION)
        .annotate(day=TruncDate("changed_at"))
        .values_list("day", "to_status", "message", "integration__error_message")
        .annotate(n=Count("pk"))
        .order_by("-n")[:GROUPED_ROWS]
    )
    counts: dict[date, Counter] = defaultdict(Counter)
    titles: dict[str, str] = {}
    for day, status, message, learned_later, n in rows:
        # A webhook says only "error"; the refresh it triggers learns why, on the integration.
        diagnosis = diagnose(status, message) or UNKNOWN
        if diagnosis is UNKNOWN:
            diagnosis = diagnose(status, learned_later) or UNKNOWN
        counts[day][diagnosis.code] += n
        titles[diagnosis.code] = diagnosis.title
    order = [cause.code for cause in CAUSES if cause.code in titles]
    week = [
        DayOfProblems(d, {code: counts[d][code] for code in order if counts[d][code]})
        for d in (first + timedelta(days=i) for i in range(days))
    ]
    return ProblemHistory(week, {code: titles[code] for code in order}, len(rows) == GROUPED_ROWS)


def recent_activity(limit: int = 10) -> list[StatusChange | ActionRecord]:
    """Status changes and the actions people took, merged, newest first."""
    changes = StatusChange.objects.select_related("integration__raw_calendar", "user").order_by(
        "-changed_at", "-id"
    )
    actions = ActionRecord.objects.select_related(
        "integration__raw_calendar", "credential__oauth_app", "oauth_app", "raw_calendar"
    ).order_by("-at", "-id")
    merged = [*changes[:limit], *actions[:limit]]
    merged.sort(key=_moment, reverse=True)
    return merged[:limit]


def _moment(entry: StatusChange | ActionRecord) -> datetime:
    return entry.changed_at if isinstance(entry, StatusChange) else entry.at
