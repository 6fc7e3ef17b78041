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
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from calendars import queue
from calendars.actions import integrations
from calendars.actions.audit import PROBLEMS, record_action, record_for_each
from calendars.lib.remote_values import fit
from calendars.models import BulkJob, BulkJobItem

logger = logging.getLogger(__name__)
Kind = BulkJob.Kind
State = BulkJobItem.State
IDLE_POLL_SECONDS = 1.0
# A lane writes its sign of life (BulkJob.active_at) at most this often.
ALIVE_EVERY_SECONDS = 5.0
# An item whose task died this many times is failed rather than taken up again.
MAX_ITEM_ATTEMPTS = 3

PERFORM: dict[str, Callable[..., object]] = {
    Kind.RESYNC: integrations.resync_integration,
    Kind.RESUBSCRIBE: integrations.resubscribe_integration,
    Kind.PUSH_CREDENTIALS: integrations.push_credentials,
    Kind.DISCONNECT: integrations.disconnect_integration,
    Kind.RECREATE: integrations.recreate_integration,
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
    kind: str,
    integration_ids: Iterable[int],
    *,
    acting_user: AbstractBaseUser | None,
    description: str,
    action: str | None = None,
) -> BulkJob:
    """Create the job and its items, and queue its lanes once they are committed.

    With `action`, each integration's action log says it was queued in this job, by whom.
    """
    ids = sorted(set(integration_ids))
    with transaction.atomic():
        job = BulkJob.objects.create(
            kind=kind,
            description=fit(BulkJob, "description", description),
            created_by=acting_user,
        )
        BulkJobItem.objects.bulk_create([BulkJobItem(job=job, integration_id=pk) for pk in ids])
        if action:
            record_for_each(acting_user, action, ids, message=f"queued in bulk job {job.pk}")
        transaction.on_commit(lambda: enqueue(job.pk, lanes=min(settings.BULK_LANES, len(ids))))
    return job


def enqueue(job_id: int, *, lanes: int | None = None) -> None:
    """Queue `lanes` (BULK_LANES) tasks for the job, each working beside the others."""
    BulkJob.objects.filter(pk=job_id).update(active_at=timezone.now())
    for _ in range(max(1, settings.BULK_LANES if lanes is None else lanes)):
        queue.enqueue("run_bulk_job", job_id, group="bulk", task_name=f"bulk-{job_id}")


def rerun(job: BulkJob, *, acting_user: AbstractBaseUser | None) -> None:
    """Run what is left: the pending items and, asked by a person, the failed ones again."""
    with transaction.atomic():
        job.items.filter(state=State.FAILED).update(state=State.PENDING, reason="", attempts=0)
        BulkJob.objects.filter(pk=job.pk).update(finished_at=None)
        record_action(acting_user, f"re-run bulk job {job.pk}", succeeded=True, message=str(job))
        transaction.on_commit(lambda: enqueue(job.pk))


def run(job_id: int) -> Progress:
    """One lane: take pending items one at a time until none is left or BULK_TASK_SECONDS pass.

    Other lanes, on this host or others, do the same beside it; a claim gives each item to one
    lane. Out of time, the lane queues its successor, so tasks stay short and well inside
    django-q2's timeout. A lane that dies loses only the item in hand: its claim lapses and
    another lane does it again (every kind of item is idempotent).
    """
    job = BulkJob.objects.get(pk=job_id)
    BulkJob.objects.filter(pk=job_id, started_at__isnull=True).update(started_at=timezone.now())
    acting_user = get_user_model().objects.filter(pk=job.created_by_id).first()
    perform = PERFORM[job.kind]
    deadline = time.monotonic() + settings.BULK_TASK_SECONDS
    alive_at = 0.0
    while True:
        if time.monotonic() > deadline:
            enqueue(job_id, lanes=1)  # this lane's successor
            return progress(job)
        if time.monotonic() - alive_at > ALIVE_EVERY_SECONDS:
            BulkJob.objects.filter(pk=job_id).update(active_at=timezone.now())
            alive_at = time.monotonic()
        item = _claim(job)
        if item is None:
            if not job.items.filter(state=State.PENDING).exists():
                break
            # What is left is in other lanes' hands: wait for them, or for a lost claim to lapse.
            time.sleep(IDLE_POLL_SECONDS)
            continue
        if item.attempts >= MAX_ITEM_ATTEMPTS:
            _finish(item, State.FAILED, f"gave up: its task died {item.attempts} times")
            continue
        try:
            perform(item.integration_id, acting_user=acting_user)
        except PROBLEMS as exc:
            _finish(item, State.FAILED, str(exc))
        else:
            _finish(item, State.DONE, "")
    result = progress(job)
    BulkJob.objects.filter(pk=job_id, finished_at__isnull=True).update(finished_at=timezone.now())
    logger.info("bulk job %s (%s): %s", job_id, job.kind, result)
    return result


def _claim(job: BulkJob) -> BulkJobItem | None:
    """Take the next pending item no live lane holds (skip_locked: lanes never queue on a row)."""
    now = timezone.now()
    with transaction.atomic():
        item = (
            job.items.select_for_update(skip_locked=True)
            .filter(state=State.PENDING)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .order_by("pk")
            .first()
        )
        if item is not None:
            BulkJobItem.objects.filter(pk=item.pk).update(
                attempts=F("attempts") + 1,
                # django-q2 kills any task older than its timeout: by then the lane is gone.
                claimed_until=now + timedelta(seconds=settings.Q_CLUSTER["timeout"]),
                worked_by=fit(BulkJobItem, "worked_by", settings.NODE_NAME),
            )
    return item


def _finish(item: BulkJobItem, state: str, reason: str) -> None:
    BulkJobItem.objects.filter(pk=item.pk).update(
        state=state,
        reason=fit(BulkJobItem, "reason", reason),
        finished_at=timezone.now(),
        claimed_until=None,
    )


def sweep() -> list[int]:
    """Queue again the unfinished jobs no lane has worked on lately (their tasks were lost).

    The ORM broker delivers a dead worker's task again after Q_RETRY; Redis loses it for good.
    Either way a job silent for that long has no live lane.
    """
    silent_since = timezone.now() - timedelta(seconds=settings.Q_CLUSTER["retry"])
    silent = Q(active_at__lt=silent_since) | Q(active_at__isnull=True, created_at__lt=silent_since)
    stalled = list(
        BulkJob.objects.filter(silent, finished_at__isnull=True)
        .filter(items__state=State.PENDING)
        .values_list("pk", flat=True)
        .distinct()
    )
    for job_id in stalled:
        logger.warning("bulk job %s had no live task: queued again", job_id)
        enqueue(job_id)
    return stalled


def progress(job: BulkJob) -> Progress:
    counts = job.items.aggregate(
        total=Count("pk"),
        done=Count("pk", filter=Q(state=State.DONE)),
        failed=Count("pk", filter=Q(state=State.FAILED)),
    )
    pending = counts["total"] - counts["done"] - counts["failed"]
    return Progress(**counts, pending=pending, finished=pending == 0)
