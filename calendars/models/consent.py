"""Consent links: a customer's person grants (or grants again) calendar access through one."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from calendars.models.accounts import Credential, Customer, OAuthApp


class ConsentLink(models.Model):
    """A link someone at a customer opens to grant calendar access, or to grant it again.

    Only a hash of the link's token is stored: the URL is shown once, to the person who made it.
    """

    class Kind(models.TextChoices):
        CONNECT = "connect", "Connect"
        RECONSENT = "reconsent", "Re-consent"
        # For a Microsoft tenant's administrator: approves the app for the whole organisation.
        ADMIN_CONSENT = "admin", "Admin consent"

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
        NEEDS_ADMIN = "needs_admin", "Refused: needs the organisation's administrator"
        ADMIN_APPROVED = "admin_approved", "Approved by the organisation's administrator"
        ADMIN_REFUSED = "admin_refused", "Refused by the organisation's administrator"

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
    # An admin consent link: the link whose person Microsoft refused for want of an
    # administrator's approval (none when support made it); the approval is recorded on both.
    # No index: building one would lock the table, and it is only read with the customer's.
    for_link = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        db_index=False,
        related_name="admin_consent_links",
        verbose_name="asked for by link",
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
    # for_link is set once, at creation, and named in the outcome messages history keeps.
    history = HistoricalRecords(
        excluded_fields=["token_hash", "opened_count", "last_opened_at", "for_link"]
    )

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
