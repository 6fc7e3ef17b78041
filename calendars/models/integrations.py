"""Integrations (Meeting BaaS calendar connections), their status history, and the counters the
home page reads (by status and provider, by class of problem, new problems per day)."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import TruncDate
from django.dispatch import receiver
from django.utils import timezone
from simple_history.models import HistoricalRecords

from calendars.lib.remote_values import fit
from calendars.meetingbaas.types import ApiVersion, Platform
from calendars.models.accounts import Credential, RawCalendar, moved_to_customer
from calendars.models.choices import choices_of
from calendars.problems import CAUSES, PROBLEM_STATUSES, charted_as, problem_code
from calendars.status import REVOKED, Cause, PortalStatus, expiry_horizon, is_revoked


class IntegrationQuerySet(models.QuerySet):
    def live(self) -> IntegrationQuerySet:
        """Not disconnected: the connection exists on Meeting BaaS (as far as we know)."""
        return self.exclude(status=PortalStatus.DISCONNECTED)

    def revoked(self) -> IntegrationQuerySet:
        """Disconnected because Meeting BaaS reports the grant revoked (`status.is_revoked`)."""
        return self.filter(status=PortalStatus.DISCONNECTED, remote_status=REVOKED).exclude(
            status_cause=Cause.ADMIN_ACTION
        )

    def gone(self) -> IntegrationQuerySet:
        """Disconnected and not revoked: Meeting BaaS holds no connection (one may be made)."""
        return self.filter(status=PortalStatus.DISCONNECTED).exclude(
            Q(remote_status=REVOKED) & ~Q(status_cause=Cause.ADMIN_ACTION)
        )

    def reachable(self) -> IntegrationQuerySet:
        """Whose connection exists on Meeting BaaS: the live integrations and the revoked ones."""
        return self.filter(
            ~Q(status=PortalStatus.DISCONNECTED)
            | Q(remote_status=REVOKED) & ~Q(status_cause=Cause.ADMIN_ACTION)
        )

    def pushable(self) -> IntegrationQuerySet:
        """What new OAuth credentials should reach: the reachable integrations (a credentials
        update brings a revoked connection back), unless another integration has taken their
        raw calendar since."""
        taken = (
            Integration.objects.live()
            .filter(raw_calendar=models.OuterRef("raw_calendar"))
            .exclude(pk=models.OuterRef("pk"))
        )
        return self.reachable().exclude(models.Exists(taken))

    def in_status(self, status: PortalStatus) -> IntegrationQuerySet:
        return self.filter(status=status)

    def in_error(self) -> IntegrationQuerySet:
        return self.filter(status=PortalStatus.ERROR)

    def disconnected(self) -> IntegrationQuerySet:
        return self.filter(status=PortalStatus.DISCONNECTED)

    def expiring(self, now: datetime) -> IntegrationQuerySet:
        """Live, with a push subscription about to lapse (status.EXPIRY_WARNING)."""
        return self.live().filter(subscription_expires_at__lt=expiry_horizon(now))


class Integration(models.Model):
    """A calendar connection created on Meeting BaaS, with the status the portal derives."""

    Status = PortalStatus

    credential = models.ForeignKey(
        Credential, on_delete=models.PROTECT, related_name="integrations"
    )
    raw_calendar = models.ForeignKey(
        RawCalendar, on_delete=models.PROTECT, related_name="integrations"
    )
    remote_id = models.UUIDField("Meeting BaaS id", unique=True)
    api_version = models.CharField("API version", max_length=2, choices=choices_of(ApiVersion))
    # The OAuth app's provider, copied here so counts and filters need no join (it never changes).
    provider = models.CharField(max_length=16, choices=choices_of(Platform))
    status = models.CharField(
        max_length=16, choices=choices_of(PortalStatus), default=PortalStatus.SYNCING
    )
    error_message = models.TextField(blank=True)
    # When and why the current status began: "broken since" for support staff.
    status_changed_at = models.DateTimeField(null=True, blank=True)
    status_cause = models.CharField(max_length=16, blank=True)
    # The remote fields as the API last gave them, kept verbatim for support staff.
    remote_status = models.CharField(max_length=64, blank=True)
    remote_status_message = models.TextField(blank=True)
    sync_status = models.CharField(max_length=64, blank=True)
    sync_error = models.TextField(blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    subscription_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_refreshed_at = models.DateTimeField(null=True, blank=True)
    # The newest remote timestamp applied (GET updated_at or a webhook's); older news is ignored.
    remote_updated_at = models.DateTimeField(null=True, blank=True)
    # The code of the class of problem its own fields show (calendars/problems.py): an error, or
    # a disconnection nobody asked for that no newer integration of its raw calendar replaced;
    # "" for none. Kept by save(), with its ProblemCount, so that the needs-attention worklist
    # reads counters and its filter an index instead of classifying every message per view.
    # (A row inserted around the portal, by SQL, has none until recount_integrations.)
    problem_code = models.CharField(
        max_length=32, blank=True, default="", db_default="", editable=False
    )
    # Fields that move with every sync or refresh stay out of history (status has its own).
    history = HistoricalRecords(
        excluded_fields=[
            "updated_at",
            "last_refreshed_at",
            "remote_updated_at",
            "synced_at",
            "subscription_expires_at",
            "status_changed_at",
            "status_cause",
            "problem_code",
        ]
    )

    objects = IntegrationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("refresh_integration", "Can refresh integration statuses"),
            ("resync_integration", "Can resync integrations"),
            ("disconnect_integration", "Can disconnect integrations"),
            ("export_history", "Can export connection history"),
        ]
        constraints = [
            # A raw calendar has at most one live integration; disconnected ones stay as history.
            models.UniqueConstraint(
                fields=["raw_calendar"],
                condition=~Q(status=PortalStatus.DISCONNECTED),
                name="one_live_integration_per_raw_calendar",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in PortalStatus]),
                name="integration_status_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="integration_newest_first"),
            # The list sorted by provider or status, with the admin's tie-break (-pk): a page is
            # read off the index instead of sorting every row. The provider's also serves its
            # filter and counts, as the index on the provider alone did.
            models.Index(fields=["provider", "-id"], name="integration_provider_id"),
            models.Index(fields=["status", "-id"], name="integration_status_id"),
            # Sorted the other way the tie-break stays -pk: read backwards, these.
            models.Index(fields=["provider", "id"], name="integration_provider_id_desc"),
            models.Index(fields=["status", "id"], name="integration_status_id_desc"),
            # Each status's integrations by when they took it, the id last: the worklist reads
            # a kind's oldest (ordered by both) straight off it, whatever the statistics say.
            models.Index(
                fields=["status", "status_changed_at", "id"], name="integration_status_since"
            ),
            models.Index(fields=["last_refreshed_at"]),
            models.Index(fields=["subscription_expires_at"]),
            # The needs-attention filter by class of problem, in the list's order; and the
            # stored problems, longest-standing first. Partial: most integrations have none.
            models.Index(
                fields=["problem_code", "-created_at", "-id"],
                name="integration_problem",
                condition=~Q(problem_code=""),
            ),
            models.Index(
                fields=["status_changed_at", "id"],
                name="integration_problem_since",
                condition=~Q(problem_code=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.raw_calendar} ({self.get_status_display()})"

    def save(self, *args: object, **kwargs: object) -> None:
        with transaction.atomic():  # the row and its counts, or neither
            adding = self._state.adding
            # Read under lock, not taken from this instance: it may have been loaded before a
            # newer integration replaced it.
            held, held_message = ("", "") if adding else self._held_problem()
            self.problem_code = self.problem_now()
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "problem_code"}
            super().save(*args, **kwargs)
            moves = [(self.credential_id, held, self.problem_code)]
            if adding:
                IntegrationCount.shift(self.provider, self.api_version, to_status=self.status)
                moves += self._replace_older()
            # Counters in one order in every writer (IntegrationCount, ProblemCount, ProblemDay):
            # two writers cannot deadlock.
            ProblemCount.move(moves)
            charted = ProblemDay.changes_charted(self._changes_to_chart, self.error_message)
            if not adding and held_message != self.error_message:
                charted += ProblemDay.relearned(self, held_message, self.error_message)
            ProblemDay.add(charted)
            self._changes_to_chart = []

    def problem_now(self) -> str:
        """The class of problem the fields hold now (what save() stores)."""
        code = problem_code(self.status, self.status_cause, self.error_message, self.remote_status)
        if code and self.status == PortalStatus.DISCONNECTED and self._is_replaced():
            return ""
        return code

    def _held_problem(self) -> tuple[str, str]:
        """The problem and the message stored now."""
        held = Integration.objects.select_for_update().filter(pk=self.pk)
        return held.values_list("problem_code", "error_message").first() or ("", "")

    def _is_replaced(self) -> bool:
        """Whether a newer integration of the same raw calendar exists: it speaks for the
        calendar now (the integration's page names it under "Replaced by")."""
        if self.pk is None:
            return False
        newer = Integration.objects.filter(raw_calendar_id=self.raw_calendar_id, pk__gt=self.pk)
        return newer.exists()

    def _replace_older(self) -> list[tuple[int, str, str]]:
        """This new integration replaces the older ones of its raw calendar: their problems are
        no longer anyone's to fix (the newest one's status says how the calendar is). Returns
        their moves out of their problems, for ProblemCount."""
        older = Integration.objects.filter(
            raw_calendar_id=self.raw_calendar_id, pk__lt=self.pk
        ).exclude(problem_code="")
        moves = [
            (credential_id, problem, "")
            for credential_id, problem in older.select_for_update().values_list(
                "credential_id", "problem_code"
            )
        ]
        if moves:
            older.update(problem_code="")
        return moves

    def record_first_status(self, message: str, *, user: models.Model | None) -> None:
        """Record the status a newly created integration starts in (it has no "from")."""
        change = StatusChange.objects.create(
            integration=self,
            to_status=self.status,
            message=fit(StatusChange, "message", message),
            cause=Cause.CREATED,
            user=user,
        )
        ProblemDay.add(ProblemDay.changes_charted([change], self.error_message))

    def move_to(
        self,
        status: PortalStatus,
        message: str,
        *,
        cause: Cause,
        user: models.Model | None,
    ) -> None:
        """Set the status of this integration (locked for update), recording the change if any.

        With `record_first_status`, the one writer of status history: every path comes here,
        so each change has its StatusChange, and its IntegrationCount moves with it. The caller
        saves the row, in the same transaction: save() charts the change (ProblemDay).
        """
        if status == self.status:
            return
        IntegrationCount.shift(
            self.provider, self.api_version, from_status=self.status, to_status=status
        )
        self.status_changed_at = timezone.now()
        self.status_cause = cause
        change = StatusChange.objects.create(
            integration=self,
            from_status=self.status,
            to_status=status,
            message=fit(StatusChange, "message", message),
            cause=cause,
            user=user,
        )
        self._changes_to_chart = [*self._changes_to_chart, change]
        self.status = status

    @property
    def _changes_to_chart(self) -> list[StatusChange]:
        """The status changes move_to recorded since the row was last saved."""
        return self.__dict__.get("_changes_to_chart", [])

    @_changes_to_chart.setter
    def _changes_to_chart(self, changes: list[StatusChange]) -> None:
        self.__dict__["_changes_to_chart"] = changes

    @property
    def is_live(self) -> bool:
        """Not disconnected: the connection exists on Meeting BaaS (as far as we know)."""
        return self.status != PortalStatus.DISCONNECTED

    @property
    def is_revoked(self) -> bool:
        """Disconnected by a withdrawn grant: the connection still exists on Meeting BaaS."""
        return is_revoked(self.status, self.status_cause, self.remote_status)

    @property
    def is_reachable(self) -> bool:
        """Its connection exists on Meeting BaaS: live, or revoked (new credentials revive it)."""
        return self.is_live or self.is_revoked


def _add_to_count(counted: models.QuerySet, delta: int, **row: object) -> None:
    """Add `delta` to the counter row `counted` selects, making the row when there is none."""
    if counted.update(count=F("count") + delta):
        return
    try:
        with transaction.atomic():  # a savepoint: a refused insert leaves the transaction usable
            counted.model.objects.create(count=delta, **row)
    except IntegrityError:
        # Two writers found no row and both made one (two workers applying webhooks at once):
        # the second insert waited for the first to commit; add to the row it made.
        counted.update(count=F("count") + delta)


class IntegrationCount(models.Model):
    """How many integrations are in each status, per provider and API version: the home page's
    bars, and /metrics.

    Kept exact by the writers of a status (`Integration.save` as it creates a row, `move_to`
    as it changes one), in their transactions, so the page reads a few rows instead of
    counting a million on every view. Rows written around them (bulk_create, update())
    are not counted: `manage.py recount_integrations` counts again from the rows.
    """

    status = models.CharField(max_length=16, choices=choices_of(PortalStatus))
    provider = models.CharField(max_length=16, choices=choices_of(Platform))
    api_version = models.CharField("API version", max_length=2, choices=choices_of(ApiVersion))
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["status", "provider", "api_version"], name="integration_count_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.api_version} {self.status}: {self.count}"

    @classmethod
    def shift(
        cls,
        provider: str,
        api_version: str,
        *,
        from_status: str | None = None,
        to_status: str | None = None,
    ) -> None:
        """Count one integration of `provider` and `api_version` out of one status and into
        another."""
        moves = [(status, -1) for status in [from_status] if status]
        moves += [(status, 1) for status in [to_status] if status]
        # Rows are locked in one order whatever the move, so that two moves in opposite
        # directions (error to active, active to error) cannot deadlock.
        for status, delta in sorted(moves):
            row = {"status": status, "provider": provider, "api_version": api_version}
            _add_to_count(cls.objects.filter(**row), delta, **row)

    @classmethod
    def recount(cls) -> None:
        """Count every status, provider and API version again from the integrations themselves."""
        with transaction.atomic():
            # Locking every row holds up the writers until the new counts are in; a writer
            # whose new row this count cannot see yet counts it once the lock is released.
            list(cls.objects.select_for_update())
            grouped = Integration.objects.values_list("status", "provider", "api_version")
            counts = dict.fromkeys(itertools.product(PortalStatus, Platform, ApiVersion), 0)
            counts |= {
                (s, p, v): n for s, p, v, n in grouped.annotate(n=models.Count("pk")).order_by()
            }
            cls.objects.bulk_create(
                [
                    cls(status=s, provider=p, api_version=v, count=n)
                    for (s, p, v), n in counts.items()
                ],
                update_conflicts=True,
                unique_fields=["status", "provider", "api_version"],
                update_fields=["count"],
            )


class ProblemCount(models.Model):
    """How many integrations have each stored class of problem (`Integration.problem_code`): in all,
    per customer and per credential, and how many customers and credentials have one.

    The needs-attention worklist reads a few of these rows instead of grouping every broken
    integration on each view. Kept exact as IntegrationCount is, in the writer's transaction:
    by `Integration.save` as a row's problem changes, and as a credential moves to another
    customer (`accounts.moved_to_customer`). `manage.py recount_integrations` classifies and
    counts again.
    """

    class Scope(models.TextChoices):
        ALL = "all", "Integrations"
        CUSTOMER = "customer", "Integrations of one customer"
        CREDENTIAL = "credential", "Integrations of one credential"
        CUSTOMERS = "customers", "Customers with any"
        CREDENTIALS = "credentials", "Credentials with any"

    problem = models.CharField(max_length=32)
    scope = models.CharField(max_length=12, choices=Scope.choices)
    # The customer's or the credential's id in those scopes (their rows go at zero), 0 in the
    # others.
    of = models.BigIntegerField(default=0)
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["problem", "scope", "of"], name="problem_count_unique")
        ]
        # The customers and credentials with the most integrations of a problem.
        indexes = [
            models.Index(fields=["problem", "scope", "-count", "of"], name="problem_count_most")
        ]

    def __str__(self) -> str:
        return f"{self.problem} {self.scope} {self.of}: {self.count}"

    @classmethod
    def move(cls, moves: list[tuple[int, str, str]]) -> None:
        """Count integrations, each given as (its credential, its problem before, after; "" for
        none), out of one problem and into the other."""
        deltas: dict[str, Counter] = defaultdict(Counter)
        for credential_id, before, after in moves:
            if before != after:
                deltas[before][credential_id] -= 1
                deltas[after][credential_id] += 1
        deltas.pop("", None)
        credentials = {pk for by_credential in deltas.values() for pk in by_credential}
        customer_of = dict(
            Credential.objects.filter(pk__in=credentials).values_list("pk", "customer_id")
        )
        for problem in sorted(deltas):
            by_customer: Counter = Counter()
            for credential_id, n in deltas[problem].items():
                by_customer[customer_of[credential_id]] += n
            cls._count(problem, deltas[problem], by_customer)

    @classmethod
    def change_customer(cls, credential_id: int, before: int, after: int) -> None:
        """Move a credential's integrations' problems from one customer's counts to another's."""
        held = cls.objects.filter(scope=cls.Scope.CREDENTIAL, of=credential_id)
        for problem, n in sorted(held.values_list("problem", "count")):
            cls._count(problem, Counter(), Counter({before: -n, after: n}))

    @classmethod
    def _count(cls, problem: str, by_credential: Counter, by_customer: Counter) -> None:
        # Problems are taken in one order and each one's total first: every writer of a problem
        # waits for that row's lock, so the shares below are read and written by one at a time,
        # and two writers cannot deadlock.
        cls._add(problem, cls.Scope.ALL, sum(by_credential.values()))
        customers = cls._share(problem, cls.Scope.CUSTOMER, by_customer)
        credentials = cls._share(problem, cls.Scope.CREDENTIAL, by_credential)
        cls._add(problem, cls.Scope.CUSTOMERS, customers)
        cls._add(problem, cls.Scope.CREDENTIALS, credentials)

    @classmethod
    def _add(cls, problem: str, scope: str, delta: int) -> None:
        counted = cls.objects.filter(problem=problem, scope=scope, of=0)
        _add_to_count(counted, delta, problem=problem, scope=scope)

    @classmethod
    def _share(cls, problem: str, scope: str, deltas: Counter) -> int:
        """Add `deltas` to the counts of each customer or credential; return how many more (or
        fewer) of them have the problem now."""
        rows = cls.objects.filter(problem=problem, scope=scope)
        held = dict(rows.filter(of__in=list(deltas)).values_list("of", "count"))
        holders = 0
        for of, delta in sorted(deltas.items()):
            if not delta:
                continue
            count = held.get(of, 0) + delta
            if of not in held:
                cls.objects.create(problem=problem, scope=scope, of=of, count=count)
                holders += 1
            elif count == 0:
                rows.filter(of=of).delete()
                holders -= 1
            else:
                rows.filter(of=of).update(count=count)
        return holders

    @classmethod
    def recount(cls) -> None:
        """Classify every integration's problem again, then count the problems from the rows."""
        classify_again()
        with transaction.atomic():
            stored = Integration.objects.exclude(problem_code="").values_list(
                "problem_code", flat=True
            )
            problems = sorted({*(cause.code for cause in CAUSES), *stored.distinct().order_by()})
            # As in IntegrationCount.recount: the writers wait on the totals (locked by this
            # update of nothing) until the new counts are in.
            for problem in problems:
                cls._add(problem, cls.Scope.ALL, 0)
            counted = {(problem, cls.Scope.ALL, 0): 0 for problem in problems} | _counted()
            cls.objects.exclude(scope=cls.Scope.ALL).delete()
            cls.objects.bulk_create(
                [cls(problem=p, scope=s, of=o, count=n) for (p, s, o), n in counted.items()],
                batch_size=5000,
                update_conflicts=True,
                unique_fields=["problem", "scope", "of"],
                update_fields=["count"],
            )


def _counted() -> dict[tuple[str, str, int], int]:
    """Every ProblemCount as the integrations stand (but the totals of problems none has)."""
    Scope = ProblemCount.Scope
    rows = Integration.objects.exclude(problem_code="").order_by()
    counted: dict[tuple[str, str, int], int] = {}
    for problem, n in rows.values_list("problem_code").annotate(n=models.Count("pk")):
        counted[problem, Scope.ALL, 0] = n
    for scope, holders, by in (
        (Scope.CUSTOMER, Scope.CUSTOMERS, "credential__customer_id"),
        (Scope.CREDENTIAL, Scope.CREDENTIALS, "credential_id"),
    ):
        for problem, of, n in rows.values_list("problem_code", by).annotate(n=models.Count("pk")):
            counted[problem, scope, of] = n
            counted[problem, holders, 0] = counted.get((problem, holders, 0), 0) + 1
    return counted


def classify_again() -> None:
    """Store each integration's class of problem as its fields show it now: for rows written
    around `Integration.save` (bulk loads, SQL), and after a release that classifies anew."""
    newer = Integration.objects.filter(raw_calendar=OuterRef("raw_calendar"), pk__gt=OuterRef("pk"))
    candidates = (
        Integration.objects.filter(Q(status__in=PROBLEM_STATUSES) | ~Q(problem_code=""))
        .annotate(replaced=Exists(newer))
        .values_list(
            "pk",
            "status",
            "status_cause",
            "error_message",
            "remote_status",
            "replaced",
            "problem_code",
        )
    )
    codes: dict[tuple[str, str, str, str], str] = {}
    changes: dict[tuple[str, str], list[int]] = defaultdict(list)
    for pk, *fields, replaced, held in candidates.iterator(chunk_size=2000):
        key = tuple(fields)
        if key not in codes:
            codes[key] = problem_code(*key)
        code = "" if replaced and key[0] == PortalStatus.DISCONNECTED else codes[key]
        if code != held:
            changes[held, code].append(pk)
    for (held, code), pks in changes.items():
        for start in range(0, len(pks), 1000):
            # Only rows no writer changed meanwhile: a writer stores its own classification.
            chunk = Integration.objects.filter(pk__in=pks[start : start + 1000], problem_code=held)
            chunk.update(problem_code=code)


class ProblemDay(models.Model):
    """How many status changes into a problem each day saw, by class: the home page's chart of
    the last DAYS days (days in TIME_ZONE).

    A change is counted as it is recorded, under the class `problems.charted_as` gives it; one
    Meeting BaaS gave no reason for follows what its integration learns later (a webhook's error,
    then the refresh's message), as `Integration.save` sees the message change. Kept in the
    writer's transaction, after ProblemCount; `manage.py recount_integrations` counts the charted
    days again from the status changes.
    """

    DAYS = 7

    day = models.DateField()
    problem = models.CharField(max_length=32)
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "problem"], name="problem_day_unique")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.problem}: {self.count}"

    @classmethod
    def first_day(cls) -> date:
        return timezone.localdate() - timedelta(days=cls.DAYS - 1)

    @classmethod
    def start(cls) -> datetime:
        """The first moment charted."""
        return timezone.make_aware(datetime.combine(cls.first_day(), time.min))

    @classmethod
    def changes_charted(
        cls, changes: list[StatusChange], learned: str
    ) -> list[tuple[date, str, int]]:
        """The counts `changes` (just recorded) add, as (day, problem, delta)."""
        found = [
            (change, charted_as(change.to_status, change.cause, change.message, learned))
            for change in changes
        ]
        return [(timezone.localdate(change.changed_at), code, 1) for change, code in found if code]

    @classmethod
    def relearned(
        cls, integration: Integration, before: str, after: str
    ) -> list[tuple[date, str, int]]:
        """The counts that move as the integration's message changes: its charted changes whose
        own message said nothing are charted by the integration's."""
        changes = integration.status_changes.filter(
            changed_at__gte=cls.start(), to_status__in=PROBLEM_STATUSES
        ).values_list("changed_at", "to_status", "cause", "message")
        moves = []
        for changed_at, to_status, cause, message in changes:
            was = charted_as(to_status, cause, message, before)
            now = charted_as(to_status, cause, message, after)
            if was != now:
                day = timezone.localdate(changed_at)
                moves += [(day, was, -1), (day, now, 1)]
        return moves

    @classmethod
    def add(cls, deltas: list[tuple[date, str, int]]) -> None:
        totals: Counter = Counter()
        for day, problem, delta in deltas:
            totals[day, problem] += delta
        # In one order, so that two writers cannot deadlock.
        for (day, problem), delta in sorted(totals.items()):
            if not delta:
                continue
            counted = cls.objects.filter(day=day, problem=problem)
            if not counted.update(count=F("count") + delta):
                cls.objects.create(day=day, problem=problem, count=delta)

    @classmethod
    def recount(cls) -> None:
        """Count the charted days again from the status changes."""
        first = cls.first_day()
        with transaction.atomic():
            list(cls.objects.select_for_update().filter(day__gte=first))
            changes = (
                StatusChange.objects.filter(
                    changed_at__gte=cls.start(), to_status__in=PROBLEM_STATUSES
                )
                .annotate(day=TruncDate("changed_at"))
                .values_list("day", "to_status", "cause", "message", "integration__error_message")
                .annotate(n=models.Count("pk"))
                .order_by()
            )
            counts: Counter = Counter()
            for day, to_status, cause, message, learned, n in changes.iterator():
                code = charted_as(to_status, cause, message, learned)
                if code:
                    counts[day, code] += n
            cls.objects.filter(day__gte=first).delete()
            cls.objects.bulk_create(
                cls(day=day, problem=problem, count=n) for (day, problem), n in counts.items()
            )


class StatusChange(models.Model):
    """Append-only timeline of an integration's status."""

    integration = models.ForeignKey(
        Integration, on_delete=models.PROTECT, related_name="status_changes"
    )
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16)
    message = models.TextField(blank=True)
    # A default rather than auto_now_add, so imports and benchmarks can give real times.
    changed_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    cause = models.CharField(max_length=16, choices=Cause.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-changed_at", "-id"]
        # The list's filters: each counts through its own index.
        indexes = [
            models.Index(fields=["to_status", "changed_at"], name="status_change_to_status"),
            models.Index(fields=["cause", "changed_at"], name="status_change_cause"),
            # A meeting's outcome: the integration's status at the meeting's start.
            models.Index(fields=["integration", "changed_at"], name="status_change_at_time"),
        ]

    def __str__(self) -> str:
        return f"{self.from_status or '∅'} → {self.to_status}"


@receiver(moved_to_customer)
def _problems_follow_the_credential(
    sender: type, *, credential_id: int, before: int, after: int, **_: object
) -> None:
    ProblemCount.change_customer(credential_id, before, after)
