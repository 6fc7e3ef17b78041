"""Work done in the background and its state: bulk jobs and their items, refresh runs, the
clusters' heartbeats, and Meeting BaaS outages the breaker records."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models

from calendars.meetingbaas.types import ApiVersion
from calendars.models.choices import choices_of
from calendars.models.integrations import Integration
from calendars.status import Cause


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

    api_version = models.CharField("API version", max_length=2, choices=choices_of(ApiVersion))
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
