"""What happened, kept: webhook deliveries as received, what people asked the portal to do, and
the totals the metrics keep."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from calendars.meetingbaas.bots import BOT_EVENTS
from calendars.meetingbaas.types import ApiVersion
from calendars.models.accounts import Credential, OAuthApp, RawCalendar
from calendars.models.choices import choices_of
from calendars.models.integrations import Integration


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

    api_version = models.CharField("API version", max_length=2, choices=choices_of(ApiVersion))
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
            # The bots' news waiting for the task that applies them in batches, the oldest
            # first, and the receiver's look for an older one: a few rows, whatever the table.
            models.Index(
                fields=["received_at", "id"],
                name="webhook_bot_news_pending",
                condition=models.Q(
                    outcome="pending", api_version=ApiVersion.V2, event__in=BOT_EVENTS
                ),
            ),
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


class SupportNotice(models.Model):
    """A message sent to support (SUPPORT_NOTIFY_EMAIL, SUPPORT_NOTIFY_WEBHOOK_URL) because
    something new needs a person (calendars/notify/): at most one per kind per hour."""

    class Kind(models.TextChoices):
        PROBLEMS = "problems", "Problems appeared or surged"
        AT_RISK = "at_risk", "Meetings at risk, no fix under way"
        NO_ANSWER = "no_answer", "Owners did not answer outreach"
        WEBHOOK_SILENCE = "webhook_silence", "No webhook from Meeting BaaS"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    sent_at = models.DateTimeField(auto_now_add=True)
    text = models.TextField()
    url = models.CharField("page that fixes it", max_length=500)
    email_to = models.CharField("e-mailed to", max_length=500, blank=True)
    webhook = models.BooleanField("posted to the chat webhook", default=False)
    # What a mail server or the webhook answered when it refused ("" when all went).
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-sent_at", "-id"]
        verbose_name = "support notice"
        indexes = [models.Index(fields=["kind", "sent_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.sent_at:%Y-%m-%d %H:%M})"
