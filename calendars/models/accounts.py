"""Who the portal works for and what they granted: customers, OAuth apps, credentials (an
account's refresh token through an app) and the raw calendars a credential sees."""

from __future__ import annotations

from django.db import models, transaction
from django.db.models.functions import Coalesce, Greatest
from django.dispatch import Signal
from simple_history.models import HistoricalRecords

from calendars.lib.encryption import EncryptedSecretField
from calendars.lib.validators import reject_control_characters
from calendars.meetingbaas.types import OAuthGrant, Platform
from calendars.models.choices import choices_of

# Sent in the transaction that moves a credential to another customer (`credential_id`,
# `before`, `after`: customer ids): what counts by customer follows it (integrations.py).
moved_to_customer = Signal()


class Customer(models.Model):
    class Outreach(models.TextChoices):
        OFF = "off", "Off: support sends re-consent links"
        AUTOMATIC = "automatic", "Automatic: the portal e-mails the account's owner"

    name = models.CharField(max_length=200, validators=[reject_control_characters])
    external_ref = models.CharField(
        "external reference", max_length=100, unique=True, null=True, blank=True
    )
    notes = models.TextField(blank=True)
    # Whether the portal asks an account's owner to grant access again by itself when a grant
    # breaks or is about to (calendars/consent/outreach.py).
    outreach = models.CharField(
        "re-consent outreach",
        max_length=10,
        choices=Outreach.choices,
        default=Outreach.OFF,
        db_default=Outreach.OFF,
    )
    # Where outreach writes when set; otherwise to each credential's account e-mail.
    contact_email = models.EmailField(
        "contact e-mail",
        blank=True,
        default="",
        db_default="",
        help_text="Re-consent e-mails go here; empty: to each account's own address",
    )
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

    provider = models.CharField(max_length=16, choices=choices_of(Platform))
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
        with transaction.atomic():  # the row and what follows its customer, or neither
            held = Credential.objects.select_for_update().filter(pk=self.pk)
            customer_id = held.values_list("customer_id", flat=True).first()
            super().save(*args, **kwargs)
            if customer_id is not None and customer_id != self.customer_id:
                moved_to_customer.send(
                    Credential, credential_id=self.pk, before=customer_id, after=self.customer_id
                )

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
