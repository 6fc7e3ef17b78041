"""What the admin home shows support staff: counts, the needs-attention worklist, activity."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from calendars.meetingbaas.types import ApiVersion, Platform
from calendars.models import (
    ActionRecord,
    Credential,
    Customer,
    Integration,
    IntegrationCount,
    RefreshRun,
    StatusChange,
)
from calendars.queries.diagnosis import (
    CREDENTIAL_FIXES,
    ON_A_CREDENTIAL,
    PATTERNS,
    UNKNOWN,
    Diagnosis,
    Fix,
    diagnose,
)
from calendars.status import Cause, PortalStatus, expiry_horizon

# Rows one grouping query reads (one per distinct message and customer). Past this many, what
# is left is counted, not grouped: a page that must stay fast cannot classify every row of a
# catastrophe, and a person needs the biggest groups first anyway.
GROUPED_ROWS = 2000
# Customers named under each group; the rest are in the group's link.
CUSTOMERS_NAMED = 3
# Credentials a group whose fix is on the credential carries, those breaking the most
# integrations first: the dashboard gives the first few a fix button each and links the list
# to all of them by id, which must fit in a URL.
CREDENTIALS_LISTED = 100
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
# A credential's own problem: its last token check failed (it needs no integration).
FAILED_CHECK = "failed_check"
FAILED_CHECK_LABEL = "refresh token check failed"
# The next step of a failed check whose diagnosis has no fix on a credential or an OAuth app
# (its own next step speaks of integrations).
CHECK_AGAIN = (
    "Read the check's exact message on the credential's page; once its cause is dealt with, "
    '"List raw calendars" checks the refresh token again.'
)


@dataclass(frozen=True)
class Bar:
    label: str
    count: int
    url: str
    css: str


def status_bars() -> list[Bar]:
    # From the maintained counts: a GROUP BY over a million integrations on every view would
    # cost a whole-table scan, and its plan would hang on fresh statistics.
    counts = _counted("status")
    return [
        Bar(s.value, counts.get(s.value, 0), f"?status__exact={s.value}", f"status-{s.value}")
        for s in PortalStatus
    ]


def provider_bars() -> list[Bar]:
    counts = _counted("provider")
    return [
        Bar(p.value, counts.get(p.value, 0), f"?provider__exact={p.value}", "provider")
        for p in Platform
    ]


def _counted(by: str) -> dict[str, int]:
    return dict(IntegrationCount.objects.values_list(by).annotate(n=Sum("count")).order_by())


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


@dataclass(frozen=True)
class FailedCheck:
    """A credential on the worklist by itself: its last token check failed."""

    credential: Credential
    diagnosis: Diagnosis
    # When it was last checked: the check's failure is all that is known of when it broke.
    moment: datetime | None


def failed_checks() -> QuerySet[Credential]:
    """Credentials whose last token check failed, as the worklist counts them: read through
    their (last_check_ok, last_checked_at) index.

    A credential with an integration in error is left out: that integration is on the worklist
    already, and its group (with a fix button per credential) and its page lead to this same
    credential's fixes; listed twice, one broken token would be counted twice and fixed from two
    places. Any error counts, whatever its message, because the cause cannot be told in SQL
    (diagnosis.py reads messages in Python) and, once Meeting BaaS next uses a refused token,
    its integrations are in error for that very reason. A credential whose token was replaced
    after the check is left out too: the check says nothing about the new token, and the push
    of it to the integrations shows in their statuses.
    """
    in_error = Integration.objects.in_error().filter(credential=OuterRef("pk"))
    return (
        Credential.objects.filter(last_check_ok=False)
        .exclude(Exists(in_error))
        .exclude(refresh_token_replaced_at__gt=F("last_checked_at"))
    )


def check_diagnosis(message: str) -> Diagnosis:
    """The class of a failed check's message, as the credential's page gives it."""
    # Classified as an integration error would be: the same providers word the same refusals.
    return diagnose(PortalStatus.ERROR, message) or UNKNOWN


def needs_attention(limit: int = 50) -> list[Problem | FailedCheck]:
    """Integrations and credentials someone should look at, the longest-broken first (then what
    lapses soonest).

    One small indexed query per kind of problem, merged here: each kind is read in the order of
    its own index, the order the merge sorts by, so LIMIT stops early and the merge is exact.
    """
    now = timezone.now()
    found: list[Problem | FailedCheck] = []
    for kind in problem_kinds(now):
        rows = kind.rows.select_related("raw_calendar", "credential__customer")
        for integration in rows.order_by(kind.since_field, "pk")[:limit]:
            diagnosis = _diagnosis(integration) if kind.diagnosed else None
            found.append(
                Problem(integration, kind, diagnosis, getattr(integration, kind.since_field))
            )
    checks = failed_checks().select_related("customer", "oauth_app")
    for credential in checks.order_by("last_checked_at", "pk")[:limit]:
        diagnosis = check_diagnosis(credential.last_check_message)
        found.append(FailedCheck(credential, diagnosis, credential.last_checked_at))
    found.sort(key=lambda entry: _queue_order(entry, now))
    return found[:limit]


def _queue_order(entry: Problem | FailedCheck, now: datetime) -> tuple:
    if isinstance(entry, FailedCheck):
        return (False, entry.moment or now, 1, entry.credential.pk)
    return (entry.kind.ahead, entry.moment or now, 0, entry.integration.pk)


def _diagnosis(integration: Integration) -> Diagnosis | None:
    return diagnose(integration.status, integration.error_message, integration.remote_status)


@dataclass(frozen=True)
class CustomerShare:
    customer: Customer
    count: int


@dataclass(frozen=True)
class CredentialRef:
    """A credential a group's fix acts on, named by its account."""

    pk: int
    account_email: str


@dataclass(frozen=True)
class Group:
    """Integrations with one cause, or credentials whose check failed for one: what a person
    fixes in one go."""

    code: str
    title: str
    next_action: str
    count: int
    customer_count: int
    customers: tuple[CustomerShare, ...]
    # What `count` counts.
    noun: str = "integration"
    # The fix that acts on each of the group's credentials (a new refresh token), when that is
    # where the group is fixed, and those credentials: at most CREDENTIALS_LISTED of
    # `credential_count`.
    fix: Fix | None = None
    credentials: tuple[CredentialRef, ...] = ()
    credential_count: int = 0


@dataclass(frozen=True)
class Worklist:
    integrations: int
    # Credentials on the worklist by themselves (failed_checks).
    credentials: int
    groups: tuple[Group, ...]
    # Integrations and credentials counted but not grouped (past GROUPED_ROWS for their kind).
    ungrouped: int

    @property
    def total(self) -> int:
        return self.integrations + self.credentials


@dataclass
class _Tally:
    """A group while the worklist counts it."""

    title: str
    next_action: str
    noun: str = "integration"
    fix: Fix | None = None
    per_customer: Counter = field(default_factory=Counter)
    # Its integrations' (status, message, remote status), by kind code: the cause is read from
    # them in Python, so they are what finds the group's rows again.
    keys: dict[str, set[tuple]] = field(default_factory=lambda: defaultdict(set))
    credentials: list[CredentialRef] = field(default_factory=list)
    credential_count: int = 0


def worklist() -> Worklist:
    """Every integration and credential that needs attention, grouped by cause and customer.

    One aggregate query per kind of problem (by message and customer for the diagnosed kinds,
    whose cause is read from the message; by customer for the others), a COUNT only for a kind
    too large to group, one query for the credentials of each group fixed on its credentials
    (a cause's, so at most one per cause), one for the failed checks and one for the customers
    named.
    """
    kinds = problem_kinds(timezone.now())
    tallies: dict[str, _Tally] = {}
    integrations, ungrouped = _tally_integrations(kinds, tallies)
    for tally in tallies.values():
        if tally.fix is not None:
            _tally_credentials(tally, kinds)
    credentials, unread = _tally_failed_checks(tallies)
    return Worklist(integrations, credentials, _groups(tallies), ungrouped + unread)


def _tally_integrations(kinds: list[Kind], tallies: dict[str, _Tally]) -> tuple[int, int]:
    """Count each kind's integrations into `tallies` by cause; return (counted, ungrouped)."""
    total = ungrouped = 0
    for kind in kinds:
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
            if diagnosis is None:
                tally = tallies.setdefault(
                    kind.code, _Tally(kind.label.capitalize(), kind.next_action)
                )
            else:
                tally = tallies.setdefault(
                    diagnosis.code,
                    _Tally(
                        diagnosis.title, diagnosis.next_action, fix=_fix_on_credential(diagnosis)
                    ),
                )
                tally.keys[kind.code].add(tuple(key))
            tally.per_customer[customer_id] += n
    return total, ungrouped


def _fix_on_credential(diagnosis: Diagnosis) -> Fix | None:
    """The first of the diagnosis's fixes a person runs on the credential itself, if any.

    Not the re-consent link: it waits on the account's owner, one credential at a time, so
    each entry of the list offers it (or says it was sent) rather than the group.
    """
    return next(
        (fix for fix in diagnosis.fixes if fix in CREDENTIAL_FIXES and fix != Fix.RECONSENT_LINK),
        None,
    )


def _tally_credentials(tally: _Tally, kinds: list[Kind]) -> None:
    """The credentials of a group's integrations, those with the most of them first."""
    rows = _rows_with_keys(kinds, tally.keys)
    found = list(
        rows.values_list("credential_id", "credential__account_email")
        .annotate(n=Count("pk"))
        .order_by("-n", "credential_id")[: CREDENTIALS_LISTED + 1]
    )
    tally.credentials = [CredentialRef(pk, email) for pk, email, _ in found[:CREDENTIALS_LISTED]]
    tally.credential_count = (
        rows.values("credential_id").distinct().count()
        if len(found) > CREDENTIALS_LISTED
        else len(found)
    )


def _tally_failed_checks(tallies: dict[str, _Tally]) -> tuple[int, int]:
    """Count the failed checks into `tallies`, a group per cause of the check's message apart
    from the integrations' (it counts credentials); return (counted, ungrouped)."""
    failed = failed_checks()
    rows = list(
        failed.order_by("last_checked_at", "pk").values_list(
            "pk", "account_email", "customer_id", "last_check_message"
        )[:GROUPED_ROWS]
    )
    counted = failed.count() if len(rows) == GROUPED_ROWS else len(rows)
    for pk, email, customer_id, message in rows:
        diagnosis = check_diagnosis(message)
        code = f"{FAILED_CHECK}_{diagnosis.code}"
        tally = tallies.setdefault(code, _failed_check_tally(diagnosis))
        tally.per_customer[customer_id] += 1
        tally.credential_count += 1
        if len(tally.credentials) < CREDENTIALS_LISTED:
            tally.credentials.append(CredentialRef(pk, email))
    return counted, counted - len(rows)


def _failed_check_tally(diagnosis: Diagnosis) -> _Tally:
    title = FAILED_CHECK_LABEL.capitalize()
    if diagnosis is not UNKNOWN:
        title += f" ({diagnosis.title})"
    fixed_here = any(fix in ON_A_CREDENTIAL for fix in diagnosis.fixes)
    return _Tally(
        title,
        diagnosis.next_action if fixed_here else CHECK_AGAIN,
        noun="credential",
        fix=_fix_on_credential(diagnosis),
    )


def _groups(tallies: dict[str, _Tally]) -> tuple[Group, ...]:
    named = {
        code: tally.per_customer.most_common(CUSTOMERS_NAMED) for code, tally in tallies.items()
    }
    ids = {customer_id for shares in named.values() for customer_id, _ in shares}
    customers = Customer.objects.in_bulk(ids)
    groups = [
        Group(
            code,
            tally.title,
            tally.next_action,
            count=sum(tally.per_customer.values()),
            customer_count=len(tally.per_customer),
            customers=tuple(CustomerShare(customers[c], n) for c, n in named[code]),
            noun=tally.noun,
            fix=tally.fix,
            credentials=tuple(tally.credentials),
            credential_count=tally.credential_count,
        )
        for code, tally in tallies.items()
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
    keys: dict[str, set[tuple]] = defaultdict(set)
    for kind in kinds:
        if not kind.diagnosed:
            continue
        triples = kind.rows.values_list("status", "error_message", "remote_status").distinct()
        for triple in triples.order_by():
            diagnosis = diagnose(*triple)
            if diagnosis and diagnosis.code == code:
                keys[kind.code].add(triple)
    return _rows_with_keys(kinds, keys)


def _rows_with_keys(kinds: list[Kind], keys: dict[str, set[tuple]]) -> QuerySet:
    """The integrations of each kind whose (status, message, remote status) is in its keys."""
    matching = Q(pk__in=[])
    for kind in kinds:
        if not keys.get(kind.code):
            continue
        same = Q(pk__in=[])
        for status, message, remote_status in keys[kind.code]:
            same |= Q(status=status, error_message=message, remote_status=remote_status)
        matching |= Q(pk__in=kind.rows.filter(same).values("pk"))
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
