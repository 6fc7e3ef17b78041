"""Bulk jobs: one action over many integrations, run item by item by django-q2.

Every item's work is idempotent (resync, resubscribe and PATCH of the same credentials can
repeat harmlessly; a DELETE that finds nothing counts as done; a recreate finds the
integration it already made), so a job interrupted anywhere can simply run again: it takes
up the items still pending (and, when re-run by a person, the failed ones) and never
touches a finished one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from django_q.tasks import async_task

from calendars import operations
from calendars.encryption import SecretUnreadable
from calendars.meetingbaas.errors import MeetingBaasError
from calendars.models import BulkJob, BulkJobItem

logger = logging.getLogger(__name__)
Kind = BulkJob.Kind
State = BulkJobItem.State

PERFORM: dict[str, Callable[..., object]] = {
    Kind.RESYNC: operations.resync_integration,
    Kind.RESUBSCRIBE: operations.resubscribe_integration,
    Kind.PUSH_CREDENTIALS: operations.push_credentials,
    Kind.DISCONNECT: operations.disconnect_integration,
    Kind.RECREATE: operations.recreate_integration,
}
# Who may start (or re-run) each kind of job.
PERMISSION = {
    Kind.RESYNC: "resync_integration",
    Kind.RESUBSCRIBE: "resync_integration",
    Kind.PUSH_CREDENTIALS: "replace_refresh_token",
    Kind.DISCONNECT: "disconnect_integration",
    Kind.RECREATE: "create_integration",
}


@dataclass(frozen=True)
class Progress:
    total: int
    done: int
    failed: int
    pending: int
    finished: bool

    @property
    def percent(self) -> int:
        return 100 if not self.total else round(100 * (self.done + self.failed) / self.total)


def start(
    kind: str, integration_ids: Iterable[int], *, user: AbstractBaseUser | None, description: str
) -> BulkJob:
    """Create the job and its items, and queue it once they are committed."""
    with transaction.atomic():
        job = BulkJob.objects.create(kind=kind, description=description[:300], created_by=user)
        BulkJobItem.objects.bulk_create(
            [BulkJobItem(job=job, integration_id=pk) for pk in sorted(set(integration_ids))]
        )
        transaction.on_commit(lambda: enqueue(job.pk))
    return job


def enqueue(job_id: int) -> None:
    async_task("calendars.tasks.run_bulk_job", job_id, group="bulk", task_name=f"bulk-{job_id}")


def rerun(job: BulkJob) -> None:
    """Run what is left: the pending items and, asked by a person, the failed ones again."""
    with transaction.atomic():
        job.items.filter(state=State.FAILED).update(state=State.PENDING, reason="")
        BulkJob.objects.filter(pk=job.pk).update(finished_at=None)
        transaction.on_commit(lambda: enqueue(job.pk))


def run(job_id: int) -> Progress:
    """Do pending items for up to BULK_TASK_SECONDS, then queue the rest as a new task.

    Short tasks stay well inside django-q2's timeout, and a crash loses at most the item in
    hand, which the next run (a redelivered task) does again. Safe beside another run.
    """
    job = BulkJob.objects.get(pk=job_id)
    BulkJob.objects.filter(pk=job_id, started_at__isnull=True).update(started_at=timezone.now())
    user = get_user_model().objects.filter(pk=job.created_by_id).first()
    perform = PERFORM[job.kind]
    deadline = time.monotonic() + settings.BULK_TASK_SECONDS
    for item in job.items.filter(state=State.PENDING).order_by("pk"):
        if time.monotonic() > deadline:
            enqueue(job_id)
            return progress(job)
        # Claim the item: a second run (a re-delivered task) skips what this one took.
        claimed = BulkJobItem.objects.filter(
            pk=item.pk, state=State.PENDING, attempts=item.attempts
        ).update(attempts=F("attempts") + 1)
        if not claimed:
            continue
        try:
            perform(item.integration_id, user=user)
        except (MeetingBaasError, SecretUnreadable) as exc:
            _finish(item, State.FAILED, str(exc))
        else:
            _finish(item, State.DONE, "")
    result = progress(job)
    if result.pending == 0:
        BulkJob.objects.filter(pk=job_id, finished_at__isnull=True).update(
            finished_at=timezone.now()
        )
    logger.info("bulk job %s (%s): %s", job_id, job.kind, result)
    return result


def _finish(item: BulkJobItem, state: str, reason: str) -> None:
    BulkJobItem.objects.filter(pk=item.pk).update(
        state=state, reason=reason[:2000], finished_at=timezone.now()
    )


def progress(job: BulkJob) -> Progress:
    counts = job.items.aggregate(
        total=Count("pk"),
        done=Count("pk", filter=Q(state=State.DONE)),
        failed=Count("pk", filter=Q(state=State.FAILED)),
    )
    pending = counts["total"] - counts["done"] - counts["failed"]
    return Progress(**counts, pending=pending, finished=pending == 0)
