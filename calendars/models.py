"""Customers, their OAuth grants, the calendars those grants see, and integrations."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Coalesce, Greatest, TruncDate
from django.utils import timezone
from simple_history.models import HistoricalRecords

from calendars.lib.encryption import EncryptedSecretField
from calendars.lib.remote_values import fit
from calendars.lib.validators import allowed_callback, reject_control_characters
from calendars.meetingbaas.types import (
    ApiVersion,
    BotConfig,
    MeetingPlatform,
    OAuthGrant,
    Platform,
    RecordingMode,
)
from calendars.problems import CAUSES, PROBLEM_STATUSES, charted_as, problem_code
from calendars.status import REVOKED, Cause, PortalStatus, expiry_horizon, is_revoked


def _choices(enum_type: type) -> list[tuple[str, str]]:
    return [(member.value, member.value.capitalize()) for member in enum_type]


class Customer(models.Model):
    name = models.CharField(max_length=200, validators=[reject_control_characters])
    external_ref = models.CharField(
        "external reference", max_length=100, unique=True, null=True, blank=True
    )
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        # The integrations list sorted by customer reads customers in this order, then their
        # integrations, and stops at a page.
        indexes = [models.Index(fields=["name"], name="customer_name")]

    def __str__(self) -> str:
        return self.name


class PublishingStatus(models.TextChoices):
    """A Google OAuth app's publishing status, as its consent screen settings show it."""

    TESTING = "testing", "Testing"
    IN_PRODUCTION = "in_production", "In production"


class OAuthApp(models.Model):
    """Service-level credentials registered with Google or Microsoft."""

    provider = models.CharField(max_length=16, choices=_choices(Platform))
    name = models.CharField(max_length=200, validators=[reject_control_characters])
    client_id = models.CharField(
        "client ID", max_length=300, validators=[reject_control_characters]
    )
    client_secret = EncryptedSecretField()
    tenant = models.CharField(
        "Microsoft tenant",
        max_length=64,
        default="common",
        help_text="common, organizations, consumers or a tenant GUID",
    )
    needs_calendar_write = models.BooleanField(
        "asks to write calendars",
        default=False,
        help_text="Microsoft: consent links also ask for Calendars.ReadWrite",
    )
    client_secret_replaced_at = models.DateTimeField(null=True, blank=True)
    # What decides how long grants and secrets live (calendars/queries/expiry.py).
    publishing_status = models.CharField(
        "Google publishing status",
        max_length=16,
        choices=PublishingStatus.choices,
        blank=True,
        help_text="Google: apps in Testing lose every refresh token 7 days after consent",
    )
    client_secret_expires_on = models.DateField(
        "client secret expires on",
        null=True,
        blank=True,
        help_text="Microsoft: Entra client secrets expire (at most 24 months after creation)",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Secrets never enter history (it would keep a second copy of each ciphertext); the
    # *_replaced_at field records that one changed.
    history = HistoricalRecords(excluded_fields=["client_secret", "updated_at"])

    class Meta:
        ordering = ["provider", "name"]
        verbose_name = "OAuth app"

    def __str__(self) -> str:
        return f"{self.name} ({self.get_provider_display()})"


def grant_last_used_at() -> Greatest:
    """When a credential's grant was last used, given or replaced, whichever is latest (each
    gives a Microsoft refresh token a fresh 90 days); its creation stands in for any never set."""
    # Coalesced one by one: SQLite's MAX() of several values is NULL if any one is.
    return Greatest(
        Coalesce("last_used_at", "created_at"),
        Coalesce("consented_at", "created_at"),
        Coalesce("refresh_token_replaced_at", "created_at"),
    )


class Credential(models.Model):
    """One end user's grant: a refresh token for an account, through one OAuth app."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="credentials")
    oauth_app = models.ForeignKey(
        OAuthApp, on_delete=models.PROTECT, related_name="credentials", verbose_name="OAuth app"
    )
    account_email = models.EmailField(max_length=254, validators=[reject_control_characters])
    # The account as its provider's ID token proves it (Google's `sub`, Microsoft's `tid/oid`),
    # set by consent links; the e-mail is only a label. Blank for credentials made before, or
    # entered by staff: the first re-consent with the same e-mail sets it.
    subject = models.CharField(
        "account subject", max_length=255, blank=True, default="", db_default="", editable=False
    )
    refresh_token = EncryptedSecretField()
    refresh_token_replaced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_check_ok = models.BooleanField("last check OK", null=True)
    last_check_message = models.TextField(blank=True)
    # When the account's owner last granted access (a consent link sets it, or the person
    # entering a token).
    consented_at = models.DateTimeField(null=True, blank=True)
    # Microsoft: when the portal last used the token successfully (unused for 90 days, it dies).
    last_used_at = models.DateTimeField("last successful use", null=True, blank=True)
    # The last check's outcome and last use are telemetry, written with update(): kept out of
    # history.
    history = HistoricalRecords(
        excluded_fields=[
            "refresh_token",
            "updated_at",
            "last_checked_at",
            "last_check_ok",
            "last_check_message",
            "last_used_at",
        ]
    )

    class Meta:
        ordering = ["account_email"]
        indexes = [
            models.Index(fields=["account_email"]),
            # The needs-attention worklist reads failed checks, the oldest first.
            models.Index(fields=["last_check_ok", "last_checked_at"], name="credential_last_check"),
            # The "Expiring soon" lane reads the grants unused the longest, the oldest first,
            # rather than working out when each credential was last used.
            models.Index(grant_last_used_at(), name="credential_grant_last_used"),
        ]
        permissions = [
            ("list_raw_calendars", "Can list raw calendars through the API"),
            ("replace_refresh_token", "Can replace a refresh token"),
        ]

    def __str__(self) -> str:
        return f"{self.account_email} via {self.oauth_app.name}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self._state.adding:
            super().save(*args, **kwargs)
            return
        with transaction.atomic():  # the row and its integrations' problem counts, or neither
            held = Credential.objects.select_for_update().filter(pk=self.pk)
            customer_id = held.values_list("customer_id", flat=True).first()
            super().save(*args, **kwargs)
            if customer_id is not None and customer_id != self.customer_id:
                ProblemCount.change_customer(self.pk, customer_id, self.customer_id)

    @property
    def provider(self) -> str:
        return self.oauth_app.provider

    def grant(self) -> OAuthGrant:
        """The OAuth fields the API needs, decrypted for the length of one call."""
        app = self.oauth_app
        return OAuthGrant(
            platform=Platform(app.provider),
            client_id=app.client_id,
            client_secret=app.client_secret.reveal(),
            refresh_token=self.refresh_token.reveal(),
            tenant_id=app.tenant or "common",
        )


class RawCalendar(models.Model):
    """A calendar the provider says a credential can see, as last listed."""

    credential = models.ForeignKey(
        Credential, on_delete=models.CASCADE, related_name="raw_calendars"
    )
    provider_id = models.CharField("provider calendar ID", max_length=1024)
    name = models.CharField(max_length=500, blank=True)
    email = models.CharField(max_length=254, blank=True)
    is_primary = models.BooleanField("primary", default=False)
    listed_at = models.DateTimeField()
    history = HistoricalRecords(excluded_fields=["listed_at"])

    class Meta:
        ordering = ["credential", "-is_primary", "name"]
        permissions = [("create_integration", "Can create integrations through the API")]
        # The integrations list sorted by calendar reads calendars in this order, then their
        # integrations, and stops at a page.
        indexes = [models.Index(fields=["name"], name="raw_calendar_name")]
        constraints = [
            models.UniqueConstraint(
                fields=["credential", "provider_id"], name="raw_calendar_unique_per_credential"
            )
        ]

    def __str__(self) -> str:
        return self.name or self.provider_id


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
    api_version = models.CharField("API version", max_length=2, choices=_choices(ApiVersion))
    # The OAuth app's provider, copied here so counts and filters need no join (it never changes).
    provider = models.CharField(max_length=16, choices=_choices(Platform))
    status = models.CharField(
        max_length=16, choices=_choices(PortalStatus), default=PortalStatus.SYNCING
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

    status = models.CharField(max_length=16, choices=_choices(PortalStatus))
    provider = models.CharField(max_length=16, choices=_choices(Platform))
    api_version = models.CharField("API version", max_length=2, choices=_choices(ApiVersion))
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
    by `Integration.save` as a row's problem changes, and by `Credential.save` as a credential
    moves to another customer. `manage.py recount_integrations` classifies and counts again.
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
        ]

    def __str__(self) -> str:
        return f"{self.from_status or '∅'} → {self.to_status}"


class WebhookDelivery(models.Model):
    """One webhook from Meeting BaaS, stored once per delivery id however often it comes."""

    class Outcome(models.TextChoices):
        PENDING = "pending", "Pending"
        APPLIED = "applied", "Applied"
        RECORDED = "recorded", "Recorded (no status effect)"
        STALE = "stale", "Ignored: older than what we hold"
        UNKNOWN_CONNECTION = "unknown_connection", "Unknown connection"
        UNKNOWN_EVENT = "unknown_event", "Unknown event type"
        FAILED = "failed", "Failed"

    api_version = models.CharField("API version", max_length=2, choices=_choices(ApiVersion))
    event = models.CharField(max_length=100)
    delivery_id = models.CharField("delivery ID", max_length=200, unique=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    repeats = models.PositiveIntegerField(
        default=0, help_text="Deliveries of the same id after the first"
    )
    payload = models.JSONField()
    remote_id = models.UUIDField("Meeting BaaS id", null=True, blank=True, db_index=True)
    event_time = models.DateTimeField(
        null=True, blank=True, help_text="When the event happened remotely"
    )
    # The Svix timestamp of a v2 delivery (v1 deliveries carry none): /metrics's lag to applied.
    sent_at = models.DateTimeField(null=True, blank=True, help_text="When Meeting BaaS sent it")
    integration = models.ForeignKey(
        Integration,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="webhook_deliveries",
    )
    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.PENDING)
    error = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["outcome", "received_at"]),
            # The list's filters count through them, and read a page in the list's order.
            models.Index(fields=["api_version", "received_at"], name="webhook_api_version"),
            models.Index(fields=["event", "received_at"], name="webhook_event"),
        ]

    def __str__(self) -> str:
        return f"{self.event} ({self.delivery_id})"


class ActionRecord(models.Model):
    """Append-only log of what a person asked the portal to do, and how it went."""

    action = models.CharField(max_length=100)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    username = models.CharField(max_length=150, help_text="As it was when the action ran")
    # "time" in the admin: its date filter reads "Filter by time", not "Filter by at".
    at = models.DateTimeField("time", auto_now_add=True, db_index=True)
    integration = models.ForeignKey(
        Integration, on_delete=models.PROTECT, null=True, blank=True, related_name="action_records"
    )
    credential = models.ForeignKey(
        Credential, on_delete=models.PROTECT, null=True, blank=True, related_name="action_records"
    )
    oauth_app = models.ForeignKey(
        OAuthApp,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="action_records",
        verbose_name="OAuth app",
    )
    raw_calendar = models.ForeignKey(
        RawCalendar, on_delete=models.PROTECT, null=True, blank=True, related_name="action_records"
    )
    # None: queued in a bulk job, whose outcome for the row's integration is a record of its own
    # (work still to do is not "done").
    succeeded = models.BooleanField(null=True)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        # The list's filter on success counts through it.
        indexes = [models.Index(fields=["succeeded", "at"], name="action_record_succeeded")]

    def __str__(self) -> str:
        return f"{self.action} by {self.username}"

    @property
    def outcome(self) -> str:
        """How it went, in a word: done, failed, or queued."""
        return {True: "done", False: "failed"}.get(self.succeeded, "queued")


class BulkJob(models.Model):
    """One action over many integrations, run by django-q2 item by item, resumable."""

    class Kind(models.TextChoices):
        RESYNC = "resync", "Resync events"
        RESUBSCRIBE = "resubscribe", "Renew push subscription"
        PUSH_CREDENTIALS = "push_credentials", "Push new OAuth credentials"
        DISCONNECT = "disconnect", "Disconnect"
        RECREATE = "recreate", "Recreate from raw calendar"
        APPLY_POLICY = "apply_policy", "Apply bot policy to known meetings"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    description = models.CharField(max_length=300)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Last sign of life from any of the job's tasks; the sweeper resumes a job silent too long.
    active_at = models.DateTimeField(null=True, blank=True)
    # Why its integrations' statuses move: someone at the portal, or (a push of the token an
    # account's owner granted again) the owner's consent.
    cause = models.CharField(max_length=16, choices=Cause.choices, default=Cause.ADMIN_ACTION)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.description}"


class BulkJobItem(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        # The fix ran and the integration reached the status it aims at.
        DONE = "done", "Fixed"
        # The fix ran, but the integration did not reach that status in FIX_CHECK_SECONDS.
        NOT_FIXED = "not_fixed", "Did not fix"
        # The fix itself could not run (Meeting BaaS refused it or could not be reached).
        FAILED = "failed", "Failed"

    job = models.ForeignKey(BulkJob, on_delete=models.CASCADE, related_name="items")
    integration = models.ForeignKey(Integration, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    reason = models.TextField(blank=True)
    # The integration's status when the job (or its re-run) started, and when its item ended.
    status_before = models.CharField(max_length=16, blank=True)
    status_after = models.CharField(max_length=16, blank=True)
    # A recreate leaves the integration disconnected and makes a new one: `status_after` is
    # the new one's. Never looked up by this column (integrations are never deleted): no index.
    recreated_as = models.ForeignKey(
        Integration,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    # A pending item is in a task's hands until then (no task outlives django-q2's timeout);
    # after it, another task may take the item up again.
    claimed_until = models.DateTimeField(null=True, blank=True)
    worked_by = models.CharField(
        "worker host", max_length=100, blank=True, help_text="NODE_NAME of the host"
    )

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["job", "integration"], name="bulk_item_unique")
        ]
        indexes = [models.Index(fields=["job", "state"])]

    def __str__(self) -> str:
        return f"{self.job_id}/{self.integration_id}: {self.state}"


class RefreshRun(models.Model):
    """One pass of the periodic refresh over an API version's listing.

    An integration found unchanged in a successful run's listing is confirmed without a write
    of its own, so "when was this integration last confirmed" is the later of its own
    `last_refreshed_at` and the last successful run.
    """

    api_version = models.CharField("API version", max_length=2, choices=_choices(ApiVersion))
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    succeeded = models.BooleanField(default=False)
    listed = models.PositiveIntegerField(default=0)
    checked = models.PositiveIntegerField(default=0)
    details_fetched = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    # Why the run failed as a whole, then why each failed integration did.
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["api_version", "succeeded", "started_at"])]

    def __str__(self) -> str:
        return f"{self.api_version} refresh at {self.started_at:%Y-%m-%d %H:%M}"

    @classmethod
    def last_success(cls, api_version: str) -> datetime | None:
        run = (
            cls.objects.filter(api_version=api_version, succeeded=True)
            .order_by("-started_at")
            .first()
        )
        return run.started_at if run else None


class Heartbeat(models.Model):
    """The last time each django-q2 cluster node ran the heartbeat task."""

    node = models.CharField(max_length=200, primary_key=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.node} at {self.seen_at:%H:%M:%S}"


class MetricTotal(models.Model):
    """A running total behind /metrics for what happens in processes rather than in rows
    (Meeting BaaS calls, webhook deliveries taken and applied, bot attempts), on every host:
    each process adds what it counted (calendars/metrics/totals.py), so whichever web process
    answers /metrics tells the whole deployment, and no total goes back on a restart."""

    # The Prometheus sample's name (a histogram's `_bucket`, `_sum` and `_count` apart) and its
    # labels as compact JSON with sorted keys.
    name = models.CharField(max_length=100)
    labels = models.CharField(max_length=500)
    value = models.FloatField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["name", "labels"], name="metric_total_unique")
        ]

    def __str__(self) -> str:
        return f"{self.name}{self.labels}: {self.value:g}"


class ConsentLink(models.Model):
    """A link someone at a customer opens to grant calendar access, or to grant it again.

    Only a hash of the link's token is stored: the URL is shown once, to the person who made it.
    """

    class Kind(models.TextChoices):
        CONNECT = "connect", "Connect"
        RECONSENT = "reconsent", "Re-consent"

    class Create(models.TextChoices):
        PRIMARY = "primary", "The primary calendar"
        ALL = "all", "Every calendar"
        NONE = "none", "None: staff pick later"

    class Outcome(models.TextChoices):
        WAITING = "waiting", "Waiting for the customer"
        CONNECTED = "connected", "Connected"
        RECONSENTED = "reconsented", "Re-consented"
        WRONG_ACCOUNT = "wrong_account", "Refused: another account"
        KNOWN_ACCOUNT = "known_account", "Refused: account already connected"
        MISSING_SCOPES = "missing_scopes", "Refused: calendar access not granted"
        DENIED = "denied", "Cancelled by the person"
        PROVIDER_ERROR = "provider_error", "Provider error"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="consent_links")
    # Re-consent: the credential granted again. Connect: the one the grant made or updated.
    credential = models.ForeignKey(
        Credential,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="consent_links",
    )
    # The apps the person may grant through: one button each.
    oauth_apps = models.ManyToManyField(
        OAuthApp, related_name="consent_links", verbose_name="OAuth apps"
    )
    create_integrations = models.CharField(
        max_length=10, choices=Create.choices, default=Create.PRIMARY
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    sent_to = models.EmailField("sent by e-mail to", blank=True)
    opened_count = models.PositiveIntegerField(default=0)
    last_opened_at = models.DateTimeField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.WAITING)
    outcome_message = models.TextField(blank=True)
    outcome_at = models.DateTimeField(null=True, blank=True)
    # Who granted, as the provider said (the last attempt's, refused or not).
    granted_by_email = models.CharField(max_length=254, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    history = HistoricalRecords(excluded_fields=["token_hash", "opened_count", "last_opened_at"])

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "consent link"
        indexes = [
            models.Index(fields=["credential", "used_at", "revoked_at", "expires_at"]),
            # The links still waiting (the home page's count, /metrics): read off this without
            # passing the used, revoked and expired ones, which only grow.
            models.Index(
                fields=["expires_at"],
                name="consent_link_waiting",
                condition=Q(used_at__isnull=True, revoked_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} link {self.pk} for {self.customer}"

    @property
    def state(self) -> str:
        """revoked, used, expired or open: whether the link still works, and if not why."""
        if self.revoked_at:
            return "revoked"
        if self.used_at:
            return "used"
        if self.expires_at <= timezone.now():
            return "expired"
        return "open"

    @property
    def is_usable(self) -> bool:
        return self.state == "open"


class BotPolicy(models.Model):
    """Which of a customer's meetings get a bot, and the bot's settings."""

    class Mode(models.TextChoices):
        RECORD_ALL = "record_all", "Record every meeting with a meeting URL"
        SCHEDULED_ONLY = "scheduled_only", "Only meetings someone scheduled"
        NONE = "none", "None"

    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, related_name="bot_policy")
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.SCHEDULED_ONLY)
    bot_name = models.CharField(
        max_length=255, default="Notetaker", validators=[reject_control_characters]
    )
    recording_mode = models.CharField(
        max_length=16,
        choices=[(m.value, m.value.replace("_", " ").capitalize()) for m in RecordingMode],
        default=RecordingMode.SPEAKER_VIEW.value,
    )
    bot_image = models.URLField("bot image URL", max_length=500, blank=True)
    entry_message = models.CharField(
        max_length=500, blank=True, validators=[reject_control_characters]
    )
    waiting_room_timeout = models.PositiveIntegerField(
        null=True, blank=True, help_text="Seconds; blank leaves Meeting BaaS's default"
    )
    no_one_joined_timeout = models.PositiveIntegerField(
        null=True, blank=True, help_text="Seconds; blank leaves Meeting BaaS's default"
    )
    silence_timeout = models.PositiveIntegerField(
        null=True, blank=True, help_text="Seconds; blank leaves Meeting BaaS's default"
    )
    transcription_enabled = models.BooleanField(default=False)
    # The speech-to-text provider's key: a secret like the others, never shown back.
    transcription_api_key = EncryptedSecretField(
        null=True, blank=True, verbose_name="transcription API key"
    )
    transcription_api_key_replaced_at = models.DateTimeField(
        "transcription API key replaced at", null=True, blank=True
    )
    callback_url = models.URLField("callback URL", max_length=500, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["transcription_api_key", "updated_at"])

    class Meta:
        verbose_name = "bot policy"
        verbose_name_plural = "bot policies"
        permissions = [
            ("run_bot_actions", "Can schedule, change and remove meeting bots"),
            (
                "change_bot_destinations",
                "Can change where bots send recordings and transcripts (callback, transcription)",
            ),
        ]

    def __str__(self) -> str:
        return f"Bot policy of {self.customer}"

    @property
    def records_every_meeting(self) -> bool:
        return self.mode == self.Mode.RECORD_ALL

    def bot_config(self) -> BotConfig:
        """The settings sent with each bot, the key decrypted for the length of one call."""
        key = self.transcription_api_key
        return BotConfig(
            bot_name=self.bot_name,
            recording_mode=RecordingMode(self.recording_mode),
            bot_image=self.bot_image or None,
            entry_message=self.entry_message or None,
            waiting_room_timeout=self.waiting_room_timeout,
            no_one_joined_timeout=self.no_one_joined_timeout,
            silence_timeout=self.silence_timeout,
            transcription_enabled=self.transcription_enabled,
            transcription_api_key=key.reveal() if key else None,
            # A policy saved before its host left BOT_CALLBACK_HOSTS sends no callback.
            callback_url=self.callback_url if allowed_callback(self.callback_url) else None,
        )


class Meeting(models.Model):
    """One upcoming (or just past) occurrence of a calendar event, mirrored from Meeting BaaS.

    Only what support needs is kept (title, times, URL, organizer): never attendees or
    descriptions. Neither API names a calendar bot by an id: a bot is its calendar and event.
    """

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="meetings")
    remote_event_id = models.UUIDField("Meeting BaaS event id")
    # v2's series UUID or v1's provider id of the recurring series.
    series_id = models.CharField("series id", max_length=1024, blank=True)
    title = models.CharField(max_length=500, blank=True)
    starts_at = models.DateTimeField("starts")
    ends_at = models.DateTimeField("ends")
    meeting_url = models.CharField("meeting URL", max_length=2000, blank=True)
    platform = models.CharField(
        max_length=16,
        choices=[(p.value, p.value.replace("_", " ").title()) for p in MeetingPlatform],
        default=MeetingPlatform.NONE.value,
    )
    is_cancelled = models.BooleanField("cancelled", default=False)
    is_recurring = models.BooleanField("recurring", default=False)
    organizer_email = models.CharField("organizer", max_length=254, blank=True)
    has_bot = models.BooleanField("bot scheduled", default=False)
    # v2 reports no bot settings back: what the portal sent is kept here.
    bot_summary = models.CharField("bot settings", max_length=300, blank=True)
    # Why the last attempt to schedule or change the bot failed, in the API's words.
    bot_failure = models.TextField(blank=True)
    # When the bot policy asked for this event's bot: it asks once per event.
    auto_bot_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField("last synced")
    # As of when the held state was true remotely (a webhook's time, or when the listing or
    # fetch that brought it began): news older than this is ignored.
    remote_updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "remote_event_id"], name="meeting_unique_per_integration"
            )
        ]
        indexes = [
            # The list's order and its "starts" filters; the window's pruning.
            models.Index(fields=["starts_at", "id"], name="meeting_starts"),
            # At risk and "next 24 h without a bot": meetings without a bot, soonest first.
            models.Index(fields=["has_bot", "starts_at"], name="meeting_bot_starts"),
            # At risk, the rarer rules read through their own (small) index, soonest first:
            # bots that failed, and meetings without a URL. (Led by has_bot, which the rules
            # test too: SQLite then prefers them to meeting_bot_starts.)
            models.Index(
                fields=["has_bot", "starts_at", "id"],
                name="meeting_bot_failed",
                condition=Q(is_cancelled=False) & ~Q(bot_failure=""),
            ),
            models.Index(
                fields=["has_bot", "starts_at", "id"],
                name="meeting_no_url",
                condition=Q(is_cancelled=False, meeting_url=""),
            ),
            # The search by exact event id (the unique constraint leads with the integration).
            models.Index(fields=["remote_event_id"], name="meeting_remote_event"),
            # The search by part of a title has an index outside Django's, made by migration
            # 0022 (on SQLite, a table kept by triggers that remaking this table would drop).
        ]

    def __str__(self) -> str:
        return self.title or f"Meeting {self.remote_event_id}"


class BotAttempt(models.Model):
    """Append-only history of what was asked of a meeting's bot, by whom, and how it went."""

    class Action(models.TextChoices):
        SCHEDULE = "schedule", "Schedule bot"
        SCHEDULE_SERIES = "schedule_series", "Schedule bot on every occurrence"
        CHANGE = "change", "Change bot settings"
        REMOVE = "remove", "Remove bot"
        POLICY = "policy", "Scheduled by the bot policy"

    # History outlives the mirror: a meeting that leaves the window is pruned, its attempts stay,
    # naming the event as it was.
    meeting = models.ForeignKey(
        Meeting, on_delete=models.SET_NULL, null=True, blank=True, related_name="bot_attempts"
    )
    integration = models.ForeignKey(Integration, on_delete=models.PROTECT, related_name="+")
    remote_event_id = models.UUIDField("Meeting BaaS event id")
    meeting_title = models.CharField(max_length=500, blank=True)
    meeting_starts_at = models.DateTimeField("meeting starts")
    action = models.CharField(max_length=20, choices=Action.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    username = models.CharField(max_length=150, help_text="As it was when the action ran")
    at = models.DateTimeField("time", auto_now_add=True)
    succeeded = models.BooleanField()
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["meeting", "-at"], name="bot_attempt_meeting"),
            # The history export reads every attempt in time order.
            models.Index(fields=["at"], name="bot_attempt_at"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} by {self.username}"


class Reconciliation(models.Model):
    """One comparison of every connection Meeting BaaS holds (both versions) with the portal."""

    created_at = models.DateTimeField(auto_now_add=True)
    # When the listing began: connections created shortly before it are not judged (a create's
    # row may not be committed yet).
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    succeeded = models.BooleanField(default=False)
    listed = models.PositiveIntegerField("connections listed", default=0)
    too_recent = models.PositiveIntegerField("too recent to judge", default=0)
    orphans = models.PositiveIntegerField(default=0)
    ghosts = models.PositiveIntegerField(default=0)
    drift = models.PositiveIntegerField(default=0)
    # Why the run failed as a whole (a listing Meeting BaaS would not give).
    error = models.TextField(blank=True)
    # Where the run goes on (calendars/actions/reconciliation.py): a task works for
    # BULK_TASK_SECONDS, then queues its successor. `step` names the version and the stage
    # (its listing, then its ghosts); `position` is where in it: the listing's cursor, or the
    # last integration checked for ghosts. Each part's findings commit with the move.
    step = models.PositiveSmallIntegerField(default=0)
    position = models.TextField(blank=True)
    # How many connections of the page at `position` are done (a page commits in parts).
    in_page = models.PositiveIntegerField(default=0)
    # A task's last sign of life: a run silent for Q_RETRY lost its task and is queued again.
    active_at = models.DateTimeField(null=True, blank=True)
    tasks = models.PositiveIntegerField("tasks that worked on it", default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("reconcile", "Can run reconciliations and adopt or delete what they find"),
        ]

    def __str__(self) -> str:
        return f"Reconciliation {self.pk}"


class ReconciliationListed(models.Model):
    """A connection a run's listing named: what it has compared, kept so that a run resumed by
    another task still knows which live integrations no page named (its ghosts). A run's rows
    are deleted when it finishes."""

    # No index of its own: the constraint's index starts with the run.
    run = models.ForeignKey(Reconciliation, on_delete=models.CASCADE, db_index=False)
    remote_id = models.UUIDField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "remote_id"], name="reconciliation_listed_once")
        ]

    def __str__(self) -> str:
        return f"{self.remote_id} listed by reconciliation {self.run_id}"


class ReconciliationFinding(models.Model):
    """Something a reconciliation found where Meeting BaaS and the portal disagree."""

    class Kind(models.TextChoices):
        ORPHAN = "orphan", "Orphan: on Meeting BaaS, in no integration"
        GHOST = "ghost", "Ghost: an integration Meeting BaaS no longer has"
        DRIFT = "drift", "Drift: fields that differ"

    class Outcome(models.TextChoices):
        OPEN = "open", "Open: waiting for an admin"
        ADOPTED = "adopted", "Adopted"
        DELETED = "deleted", "Deleted on Meeting BaaS"
        DISCONNECTED = "disconnected", "Marked disconnected"
        CORRECTED = "corrected", "Corrected"
        NOT_CORRECTED = "not_corrected", "Not corrected"
        # An orphan someone or something else settled: an integration took it, it was deleted
        # remotely, or a later run found it again.
        SETTLED = "settled", "Settled elsewhere"

    run = models.ForeignKey(Reconciliation, on_delete=models.CASCADE, related_name="findings")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    api_version = models.CharField("API version", max_length=2, choices=_choices(ApiVersion))
    remote_id = models.UUIDField("Meeting BaaS id", db_index=True)
    account_email = models.CharField(max_length=254, blank=True)
    platform = models.CharField(max_length=16, blank=True)
    remote_created_at = models.DateTimeField("created on Meeting BaaS", null=True, blank=True)
    remote_status = models.CharField(max_length=64, blank=True)
    differences = models.TextField("what differs", blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.OPEN)
    # What was done, or why nothing could be (an orphan no credential matches...).
    reason = models.TextField(blank=True)
    # A ghost's or drift's integration; an adopted orphan's new one; or the disconnected
    # integration that once held an orphan.
    integration = models.ForeignKey(
        Integration, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["run", "kind", "pk"]
        constraints = [
            # A run that is run again (its task delivered twice) records each finding once.
            models.UniqueConstraint(
                fields=["run", "kind", "remote_id"], name="reconciliation_finding_once"
            )
        ]
        indexes = [models.Index(fields=["kind", "outcome"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.remote_id}"


class ServiceOutage(models.Model):
    """What every process and host knows of a remote service's health (one row per service).

    A circuit breaker kept in the database, the one store every web and worker process shares
    whatever the broker (calendars/outage/). `unreachable_since` set: the service is taken as
    down and only one probe call goes out per probe interval, whoever makes it.
    """

    service = models.CharField(max_length=32, primary_key=True)
    # Calls in a row that got no answer (or a 5xx), across every process.
    failures = models.PositiveIntegerField(default=0)
    failing_since = models.DateTimeField(null=True, blank=True)
    unreachable_since = models.DateTimeField(null=True, blank=True)
    next_probe_at = models.DateTimeField(null=True, blank=True)
    probes = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # The last outage, once over; `catch_up_due` until one process has queued the work it held.
    last_outage_since = models.DateTimeField(null=True, blank=True)
    recovered_at = models.DateTimeField(null=True, blank=True)
    catch_up_due = models.BooleanField(default=False)

    def __str__(self) -> str:
        return self.service
