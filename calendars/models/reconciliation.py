"""Reconciliations: every connection Meeting BaaS holds compared with the portal, and what
each run found."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from calendars.meetingbaas.types import ApiVersion
from calendars.models.choices import choices_of
from calendars.models.integrations import Integration


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
    # Findings about bots (duplicates, unwanted, missing), from its last step.
    bot_findings = models.PositiveIntegerField(default=0)
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
        # About a meeting's bot (remote_id: its event), as Meeting BaaS listed it at the
        # calendar's last sync.
        DUPLICATE_BOT = "bot_dup", "Duplicate bot: one meeting, several bots"
        UNWANTED_BOT = "bot_out", "Unwanted bot: the policy would not schedule it"
        MISSING_BOT = "bot_miss", "Missing bot: the policy wants it recorded"

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
        BOT_REMOVED = "bot_removed", "Duplicate bot removed"
        BOT_SCHEDULED = "bot_scheduled", "Bot scheduled"

    run = models.ForeignKey(Reconciliation, on_delete=models.CASCADE, related_name="findings")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    api_version = models.CharField("API version", max_length=2, choices=choices_of(ApiVersion))
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
    # A bot finding's meeting (the copy whose bot is one too many, unwanted or missing).
    # Its index (for a pruned meeting's SET NULL) is in Meta, built concurrently.
    meeting = models.ForeignKey(
        "calendars.Meeting",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
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
        indexes = [
            models.Index(fields=["kind", "outcome"]),
            models.Index(
                fields=["meeting"],
                name="finding_meeting",
                condition=models.Q(meeting__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.remote_id}"
