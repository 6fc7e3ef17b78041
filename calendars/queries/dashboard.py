"""What the admin home shows support staff: counts, the needs-attention worklist, activity."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet, Subquery, Value
from django.utils import timezone

from calendars.lib.union import read_each
from calendars.meetingbaas.types import ApiVersion, Platform
from calendars.models import (
    ActionRecord,
    Credential,
    Customer,
    Integration,
    IntegrationCount,
    ProblemCount,
    ProblemDay,
    RefreshRun,
    StatusChange,
)
from calendars.problems import CAUSES, PROBLEM_STATUSES, UNKNOWN, Diagnosis, Fix, diagnose
from calendars.queries.diagnosis import CREDENTIAL_FIXES, ON_A_CREDENTIAL
from calendars.status import PortalStatus, expiry_horizon

# Rows one grouping query reads (one per distinct message: failed checks, the chart). Past this
# many, what is left is counted, not grouped: a page that must stay fast cannot classify every
# row of a catastrophe, and a person needs the biggest groups first anyway.
GROUPED_ROWS = 2000
# Integrations the worklist reads of each kind of problem that depends on the time (not counted
# as it happens), the longest-standing first. Past this many it says "more than": the refresh
# down for an hour leaves every integration unconfirmed, and reading a million rows to say so
# would stop the page.
TIMED_ROWS = 200
# Customers named under each group; the rest are in the group's link.
CUSTOMERS_NAMED = 3
# Credentials a group whose fix is on the credential carries, those breaking the most
# integrations first: the dashboard gives the first few a fix button each and links the list
# to all of them by id, which must fit in a URL.
CREDENTIALS_LISTED = 100
# Entries of the queue under the worklist: the longest-broken first.
QUEUE_LENGTH = 50
CHART_DAYS = ProblemDay.DAYS
CAUSE_BY_CODE = {cause.code: cause for cause in CAUSES}
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
# The integrations list's parameter that filters it to a worklist group (or "any"), where the
# home page's groups link.
PARAMETER = "problem"
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


def integration_bars() -> tuple[list[Bar], list[Bar]]:
    """The integrations by status and by provider, from the maintained counts (a few rows, read
    once): a GROUP BY over a million integrations on every view would cost a whole-table scan,
    and its plan would hang on fresh statistics."""
    by_status: Counter = Counter()
    by_provider: Counter = Counter()
    for status, provider, n in IntegrationCount.objects.values_list("status", "provider", "count"):
        by_status[status] += n
        by_provider[provider] += n
    statuses = [
        Bar(s.value, by_status[s.value], f"?status__exact={s.value}", f"status-{s.value}")
        for s in PortalStatus
    ]
    providers = [
        Bar(p.value, by_provider[p.value], f"?provider__exact={p.value}", "provider")
        for p in Platform
    ]
    return statuses, providers


@dataclass(frozen=True)
class Kind:
    """One kind of problem, read through its own index.

    Each kind's rows exclude those of the kinds before it, so every integration counts once and
    the totals add up without a query that ORs them all (which would scan the whole table).
    """

    code: str
    next_action: str
    condition: Q
    # The indexed column the kind is read in, oldest first: also when its problem began.
    since_field: str
    # Whether the kind is one of the stored classes of problem (Integration.problem_code), which the
    # diagnosis (calendars/problems.py) words and ProblemCount counts.
    diagnosed: bool = False
    # A problem still ahead (a subscription about to lapse) rather than one that began.
    ahead: bool = False

    @property
    def label(self) -> str:
        return KIND_LABELS[self.code]

    @property
    def rows(self) -> QuerySet[Integration]:
        return Integration.objects.filter(self.condition)


def problem_kinds(now: datetime) -> list[Kind]:
    stuck = now - timedelta(minutes=settings.STUCK_SYNCING_MINUTES)
    stale = now - timedelta(minutes=2 * settings.STATUS_REFRESH_MINUTES)
    horizon = expiry_horizon(now)
    # Unchanged integrations are confirmed by the refresh run, not row by row: a row is stale
    # only while its version's refresh has not succeeded lately either.
    refreshed = _last_refreshes()
    stale_versions = [
        v for v in ApiVersion if refreshed.get(v, datetime.min.replace(tzinfo=UTC)) < stale
    ]
    # Every version stale (no refresh lately at all): no filter, which the planner reckons
    # right without statistics, where a list of every version would read as a rare one.
    in_stale_versions = (
        Q() if len(stale_versions) == len(ApiVersion) else Q(api_version__in=stale_versions)
    )
    is_stuck = Q(status=PortalStatus.SYNCING, status_changed_at__lt=stuck)
    # Live and not in error: the kinds that depend on the time are about these alone. Said as
    # what they are not, which no index serves: the planner then reads each kind through the
    # index of its own time, in order, and stops at the rows it needs, even with no statistics
    # to tell it how many integrations are in each status (straight after a bulk load).
    unbroken = ~Q(status__in=PROBLEM_STATUSES) & ~is_stuck
    expiring = Q(subscription_expires_at__lt=horizon)
    return [
        Kind("error", "", Q(status=PortalStatus.ERROR), "status_changed_at", diagnosed=True),
        # Stored as a problem only when nobody asked for it and no newer integration of the raw
        # calendar replaced it (Integration.problem_now).
        Kind(
            "disconnected_remotely",
            "",
            Q(status=PortalStatus.DISCONNECTED) & ~Q(problem_code=""),
            "status_changed_at",
            diagnosed=True,
        ),
        Kind(
            "stuck_syncing",
            "Resync; if it stays in syncing, recreate it from its raw calendar.",
            is_stuck,
            "status_changed_at",
        ),
        Kind(
            "subscription_expiring",
            "Renewed automatically before it lapses; if it still shows here, use "
            '"Renew push subscription".',
            unbroken & expiring,
            "subscription_expires_at",
            ahead=True,
        ),
        Kind(
            "not_refreshed",
            'Use "Refresh status"; if refreshes keep failing, check the worker hosts and '
            "Meeting BaaS.",
            unbroken & in_stale_versions & Q(last_refreshed_at__lt=stale) & ~expiring,
            "last_refreshed_at",
        ),
    ]


def _last_refreshes() -> dict[str, datetime]:
    """When each API version's last successful refresh run started (as
    RefreshRun.last_success), in one query."""
    runs = RefreshRun.objects.filter(succeeded=True).order_by("-started_at")
    parts = [runs.filter(api_version=v).values_list("started_at")[:1] for v in ApiVersion]
    return {
        version: rows[0][0]
        for version, rows in zip(ApiVersion, read_each(parts), strict=True)
        if rows
    }


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


@dataclass(frozen=True)
class Firsts:
    """What the worklist and its queue read of the problems that are not counted as they
    happen: each kind's longest-standing integrations as (id, since, customer id), and the
    failed token checks as (id, last checked, customer id, account e-mail, message), each in
    the order of its index."""

    kinds: list[Kind]
    integrations: dict[str, list[tuple]]
    checks: list[tuple]


def read_firsts(kinds: list[Kind]) -> Firsts:
    """Every kind's first rows and the failed checks', in one query: one small indexed read each
    (UNION ALL), stopped at what the page uses: QUEUE_LENGTH of a kind the queue alone lists,
    TIMED_ROWS + 1 of a kind the worklist counts by reading it, GROUPED_ROWS failed checks."""
    columns = ("pk", "since", "customer_id", "email", "message")
    # Looked up per row kept rather than joined: with a join, the planner may read the whole
    # table to hash it against a few hundred rows.
    customer = Credential.objects.filter(pk=OuterRef("credential_id")).values("customer_id")
    parts = []
    for kind in kinds:
        limit = QUEUE_LENGTH if kind.diagnosed else max(QUEUE_LENGTH, TIMED_ROWS + 1)
        rows = kind.rows.order_by(kind.since_field, "pk").annotate(
            since=F(kind.since_field),
            customer_id=Subquery(customer),
            email=Value(""),
            message=Value(""),
        )
        parts.append(rows.values_list(*columns)[:limit])
    checks = failed_checks().order_by("last_checked_at", "pk")
    checks = checks.annotate(
        since=F("last_checked_at"), email=F("account_email"), message=F("last_check_message")
    )
    *by_kind, checked = read_each([*parts, checks.values_list(*columns)[:GROUPED_ROWS]])
    integrations = {
        kind.code: [row[:3] for row in rows] for kind, rows in zip(kinds, by_kind, strict=True)
    }
    return Firsts(kinds, integrations, checked)


def needs_attention(firsts: Firsts, limit: int = QUEUE_LENGTH) -> list[Problem | FailedCheck]:
    """Integrations and credentials someone should look at, the longest-broken first (then what
    lapses soonest).

    Merged from each kind's first rows (read_firsts): each kind was read in the order of its
    own index, the order the merge sorts by, so the merge is exact. The entries kept are then
    loaded in one query each for integrations and credentials (loading every kind's first
    `limit` with their accounts and customers, to keep `limit` of them, was most of the home
    page's time).
    """
    now = timezone.now()
    picked: list[tuple[tuple, Kind | None, int, datetime | None]] = []
    for kind in firsts.kinds:
        for pk, moment, _ in firsts.integrations[kind.code][:limit]:
            picked.append(((kind.ahead, moment or now, 0, pk), kind, pk, moment))
    for pk, moment, *_ in firsts.checks[:limit]:
        picked.append(((False, moment or now, 1, pk), None, pk, moment))
    picked.sort(key=lambda entry: entry[0])
    kept = picked[:limit]
    integrations = Integration.objects.select_related("raw_calendar", "credential__customer")
    integrations = integrations.in_bulk([pk for _, kind, pk, _ in kept if kind])
    credentials = Credential.objects.select_related("customer", "oauth_app")
    credentials = credentials.in_bulk([pk for _, kind, pk, _ in kept if kind is None])
    found: list[Problem | FailedCheck] = []
    # A row deleted between the two reads is left out.
    for _, kind, pk, moment in kept:
        if kind is None and pk in credentials:
            credential = credentials[pk]
            diagnosis = check_diagnosis(credential.last_check_message)
            found.append(FailedCheck(credential, diagnosis, moment))
        elif kind is not None and pk in integrations:
            integration = integrations[pk]
            diagnosis = _diagnosis(integration) if kind.diagnosed else None
            found.append(Problem(integration, kind, diagnosis, moment))
    return found


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
    # False when there are more than `count`: only the TIMED_ROWS longest-standing were read
    # (and their customers counted).
    counted_all: bool = True


@dataclass(frozen=True)
class Worklist:
    integrations: int
    # Credentials on the worklist by themselves (failed_checks).
    credentials: int
    groups: tuple[Group, ...]
    # Credentials counted but not grouped (past GROUPED_ROWS, their messages unread).
    ungrouped: int
    # False when a group has more integrations than counted (Group.counted_all).
    counted_all: bool = True

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
    count: int = 0
    # By customer id: every customer's share, or (for a stored problem) the largest ones only,
    # `customer_count` saying how many customers there are.
    shares: Counter = field(default_factory=Counter)
    customer_count: int | None = None
    credentials: list[CredentialRef] = field(default_factory=list)
    credential_count: int = 0
    counted_all: bool = True


def worklist(firsts: Firsts) -> Worklist:
    """Every integration and credential that needs attention, grouped by cause and customer.

    The stored classes of problem (errors, remote disconnections) come from their maintained
    counts (ProblemCount), in one query: the totals, and for each cause its largest customers
    and, where the fix is on the credentials, its largest credentials with their e-mails. The
    kinds that depend on the time and the failed token checks come from `firsts` (at most
    TIMED_ROWS of each kind, GROUPED_ROWS failed checks); then one query for the customers
    named.
    """
    tallies: dict[str, _Tally] = {}
    integrations = _tally_stored(tallies)
    integrations += _tally_timed(firsts, tallies)
    credentials, ungrouped = _tally_failed_checks(firsts.checks, tallies)
    counted_all = all(tally.counted_all for tally in tallies.values())
    return Worklist(integrations, credentials, _groups(tallies), ungrouped, counted_all)


def _tally_stored(tallies: dict[str, _Tally]) -> int:
    """Count the stored problems into `tallies` by cause, from their counts; return how many."""
    Scope = ProblemCount.Scope
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    customers: dict[str, list[tuple[int, int]]] = defaultdict(list)
    credentials: dict[str, list[CredentialRef]] = defaultdict(list)
    read = _stored_parts()
    for (code, scope), rows in zip(read, read_each(list(read.values())), strict=True):
        for problem, row_scope, of, n, email in rows:
            if scope is None:
                counts[problem][row_scope] = n
            elif scope == Scope.CUSTOMER:
                customers[code].append((of, n))
            elif email is not None:  # None: the credential was deleted since it was counted
                credentials[code].append(CredentialRef(of, email))
    total = 0
    for cause in CAUSES:
        counted = counts.get(cause.code, {})
        if counted.get(Scope.ALL, 0) > 0:
            tallies[cause.code] = _Tally(
                cause.title,
                cause.next_action,
                fix=_fix_on_credential(cause),
                count=counted[Scope.ALL],
                shares=Counter(dict(customers[cause.code])),
                customer_count=counted.get(Scope.CUSTOMERS, 0),
                credentials=credentials[cause.code],
                credential_count=counted.get(Scope.CREDENTIALS, 0),
            )
            total += counted[Scope.ALL]
    return total


def _stored_parts() -> dict[tuple[str, str | None], QuerySet]:
    """The reads of the stored problems' counts, by (cause, scope): the totals of every cause
    first (scope None), then each cause's largest customers and, where its fix is on the
    credentials, its largest credentials (with their e-mails), through the counts' index.

    Every cause is asked, present or not, so that the page costs the same whatever is broken.
    """
    Scope = ProblemCount.Scope
    columns = ("problem", "scope", "of", "count", "email")
    counts = ProblemCount.objects.annotate(email=Value("")).values_list(*columns)
    totals = [Scope.ALL, Scope.CUSTOMERS, Scope.CREDENTIALS]
    email = Credential.objects.filter(pk=OuterRef("of")).values("account_email")
    parts = {("", None): counts.filter(problem__in=CAUSE_BY_CODE, scope__in=totals)}
    for cause in CAUSES:
        parts[cause.code, Scope.CUSTOMER] = _largest(counts, cause.code, Scope.CUSTOMER)[
            :CUSTOMERS_NAMED
        ]
        if _fix_on_credential(cause) is not None:
            named = ProblemCount.objects.annotate(email=Subquery(email)).values_list(*columns)
            parts[cause.code, Scope.CREDENTIAL] = _largest(named, cause.code, Scope.CREDENTIAL)[
                :CREDENTIALS_LISTED
            ]
    return parts


def _largest(counts: QuerySet, problem: str, scope: str) -> QuerySet:
    """The customers or credentials with the most integrations of `problem`, the most first."""
    return counts.filter(problem=problem, scope=scope).order_by("-count", "of")


def _tally_timed(firsts: Firsts, tallies: dict[str, _Tally]) -> int:
    """Count the kinds that depend on the time into `tallies`, each by its customers; return
    how many were counted."""
    total = 0
    for kind in firsts.kinds:
        if kind.diagnosed:
            continue
        customers = [customer for _, _, customer in firsts.integrations[kind.code]]
        if not customers:
            continue
        counted = customers[:TIMED_ROWS]
        tallies[kind.code] = _Tally(
            kind.label.capitalize(),
            kind.next_action,
            count=len(counted),
            shares=Counter(counted),
            counted_all=len(customers) == len(counted),
        )
        total += len(counted)
    return total


def _fix_on_credential(diagnosis: Diagnosis) -> Fix | None:
    """The first of the diagnosis's fixes a person runs on the credential itself, if any.

    Not the re-consent link: it waits on the account's owner, one credential at a time, so
    each entry of the list offers it (or says it was sent) rather than the group.
    """
    return next(
        (fix for fix in diagnosis.fixes if fix in CREDENTIAL_FIXES and fix != Fix.RECONSENT_LINK),
        None,
    )


def _tally_failed_checks(rows: list[tuple], tallies: dict[str, _Tally]) -> tuple[int, int]:
    """Count the failed checks (read_firsts' rows of them) into `tallies`, a group per cause of
    the check's message apart from the integrations' (it counts credentials); return (counted,
    ungrouped)."""
    counted = failed_checks().count() if len(rows) == GROUPED_ROWS else len(rows)
    for pk, _, customer_id, email, message in rows:
        diagnosis = check_diagnosis(message)
        code = f"{FAILED_CHECK}_{diagnosis.code}"
        tally = tallies.setdefault(code, _failed_check_tally(diagnosis))
        tally.count += 1
        tally.shares[customer_id] += 1
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
    named = {code: tally.shares.most_common(CUSTOMERS_NAMED) for code, tally in tallies.items()}
    ids = {customer_id for shares in named.values() for customer_id, _ in shares}
    customers = Customer.objects.in_bulk(ids)
    groups = [
        Group(
            code,
            tally.title,
            tally.next_action,
            count=tally.count,
            customer_count=(
                len(tally.shares) if tally.customer_count is None else tally.customer_count
            ),
            customers=tuple(
                CustomerShare(customers[c], n) for c, n in named[code] if c in customers
            ),
            noun=tally.noun,
            fix=tally.fix,
            credentials=tuple(tally.credentials),
            credential_count=tally.credential_count,
            counted_all=tally.counted_all,
        )
        for code, tally in tallies.items()
    ]
    return tuple(sorted(groups, key=lambda g: (-g.count, g.title)))


def problem_condition(code: str) -> Q:
    """The integrations of one worklist group (a kind's code or a cause's), or of any ("any"),
    as a filter: an indexed equality for a cause, an indexed range for a kind."""
    kinds = problem_kinds(timezone.now())
    for kind in kinds:
        if kind.code == code:
            return kind.condition
    if code == ANY_PROBLEM:
        anywhere = Q(pk__in=[])
        for kind in kinds:
            anywhere |= kind.condition
        return anywhere
    if code in CAUSE_BY_CODE:
        return Q(problem_code=code)
    return Q(pk__in=[])


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


def problems_by_day(days: int = CHART_DAYS) -> ProblemHistory:
    """New problems per day and cause over the last `days` days, today included: their counts
    as the status changes were recorded (ProblemDay), not an aggregate of the status changes."""
    first = timezone.localdate() - timedelta(days=days - 1)
    counts: dict[date, Counter] = defaultdict(Counter)
    rows = ProblemDay.objects.filter(day__gte=first, count__gt=0)
    for day, problem, n in rows.values_list("day", "problem", "count"):
        # A code no release gives any more reads as unknown until the next recount.
        counts[day][problem if problem in CAUSE_BY_CODE else UNKNOWN.code] += n
    present = {code for by_cause in counts.values() for code in by_cause}
    order = [cause.code for cause in CAUSES if cause.code in present]
    week = [
        DayOfProblems(d, {code: counts[d][code] for code in order if counts[d][code]})
        for d in (first + timedelta(days=i) for i in range(days))
    ]
    return ProblemHistory(week, {code: CAUSE_BY_CODE[code].title for code in order})


def recent_activity(limit: int = 10) -> list[StatusChange | ActionRecord]:
    """Status changes and the actions people took, merged, newest first."""
    # Their integrations come in queries of their own: joined, SQLite's planner (once ANALYZE
    # has run) reads every integration's changes and sorts a million rows to keep ten.
    integrations = Integration.objects.select_related("raw_calendar")
    changes = StatusChange.objects.prefetch_related(
        Prefetch("integration", queryset=integrations), "user"
    ).order_by("-changed_at", "-id")
    actions = ActionRecord.objects.select_related(
        "integration__raw_calendar", "credential__oauth_app", "oauth_app", "raw_calendar"
    ).order_by("-at", "-id")
    merged = [*changes[:limit], *actions[:limit]]
    merged.sort(key=_moment, reverse=True)
    return merged[:limit]


def _moment(entry: StatusChange | ActionRecord) -> datetime:
    return entry.changed_at if isinstance(entry, StatusChange) else entry.at
