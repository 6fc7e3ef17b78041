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


class Outreach(models.Model):
    """The portal asking a credential's owner to grant access again, from the diagnosis until
    the grant works again (or a person takes over, or the owner does not answer)."""

    class State(models.TextChoices):
        WRITING = "writing", "Writing to the owner"
        NO_ANSWER = "no_answer", "Owner did not answer"
        TAKEN_OVER = "taken_over", "Handled by support"
        RESOLVED = "resolved", "Works again"

    credential = models.ForeignKey(Credential, on_delete=models.PROTECT, related_name="outreach")
    # What broke, as calendars/consent/outreach.py words it (a diagnosis or an expiry rule).
    reason = models.CharField(max_length=32)
    # When it broke, or (a prediction) when it will.
    since = models.DateTimeField()
    started_at = models.DateTimeField(auto_now_add=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.WRITING)
    ended_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = "re-consent outreach"
        verbose_name_plural = "re-consent outreach"
        constraints = [
            # One outreach at a time per credential, until its grant works again.
            models.UniqueConstraint(
                fields=["credential"],
                condition=~Q(state="resolved"),
                name="one_outreach_per_credential",
            )
        ]
        indexes = [
            # The home page's count of owners who did not answer; the task's unresolved ones.
            models.Index(
                fields=["state"], name="outreach_unresolved", condition=~Q(state="resolved")
            )
        ]

    def __str__(self) -> str:
        return f"Outreach {self.pk} to {self.credential.account_email}"


class OutreachMessage(models.Model):
    """One e-mail outreach sent, or tried to send: to whom, when, why and with which link.

    The link's URL is only in the e-mail itself: the row names the link.
    """

    class Delivery(models.TextChoices):
        SENT = "sent", "Sent"
        FAILED = "failed", "Mail server refused or timed out: retried"

    outreach = models.ForeignKey(Outreach, on_delete=models.PROTECT, related_name="messages")
    # Copied from the credential, so a customer's messages of the day are counted off an index.
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    to = models.EmailField("sent to")
    reminder = models.PositiveSmallIntegerField(default=0, help_text="0: the first message")
    reason = models.CharField("why", max_length=32)
    link = models.ForeignKey(
        ConsentLink, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    delivery = models.CharField(max_length=8, choices=Delivery.choices)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "outreach message"
        indexes = [models.Index(fields=["customer", "delivery", "created_at"])]

    def __str__(self) -> str:
        return f"Outreach message {self.pk} to {self.to}"
