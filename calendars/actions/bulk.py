"""Bulk jobs: one action over many integrations, run item by item by django-q2.

An item is fixed only when its integration afterwards has the status the fix aims at (active,
or disconnected for a disconnect), checked by refreshing it for up to FIX_CHECK_SECONDS;
otherwise it ends "did not fix", with the status it was left in and the API's message.

Every item's work is idempotent (resync, resubscribe and PATCH of the same credentials can
repeat harmlessly; a DELETE that finds nothing counts as done; a recreate finds the
integration it already made), so a job interrupted anywhere can simply run again: it takes
up the items still pending and never touches a finished one. A person may run again, once
the job has finished, what did not succeed (the failed and not-fixed items).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.utils import timezone

from calendars import queue
from calendars.actions import integrations
from calendars.actions.audit import record_action, record_for_each
from calendars.actions.refresh import refresh_integration
from calendars.lib.remote_values import fit
from calendars.lib.words import counted
from calendars.meetingbaas.errors import Unreachable
from calendars.meetings import bots
from calendars.meetings.risk import CONNECTION_IS
from calendars.models import BulkJob, BulkJobItem, Integration
from calendars.outage import breaker
from calendars.problems import PROBLEMS
from calendars.status import Cause, PortalStatus

logger = logging.getLogger(__name__)
Kind = BulkJob.Kind
State = BulkJobItem.State
IDLE_POLL_SECONDS = 1.0
# A lane writes its sign of life (BulkJob.active_at) at most this often.
ALIVE_EVERY_SECONDS = 5.0
# An item whose task died this many times is failed rather than taken up again.
MAX_ITEM_ATTEMPTS = 3
# Begins the reason of a pending item that waits for Meeting BaaS to answer again.
HELD = "Waiting for Meeting BaaS to answer: "
# The claim this worker process holds (item id, claimed_until), if any: one task runs at a time
# in a worker. When the task loses the database and is run again (calendars.lib.database), the
# lane gives its claim back first, so the item is taken up at once rather than once the claim
# has lapsed; a claim is given back only by the process that made it.
_in_hand: tuple[int, datetime] | None = None

PERFORM: dict[str, Callable[..., object]] = {
    Kind.RESYNC: integrations.resync_integration,
    Kind.RESUBSCRIBE: integrations.resubscribe_integration,
    Kind.PUSH_CREDENTIALS: integrations.push_credentials,
    Kind.DISCONNECT: integrations.disconnect_integration,
    Kind.RECREATE: integrations.recreate_integration,
    Kind.APPLY_POLICY: bots.apply_policy_to,
}
# Who may start (or re-run) each kind of job.
PERMISSION = {
    Kind.RESYNC: "resync_integration",
    Kind.RESUBSCRIBE: "resync_integration",
    Kind.PUSH_CREDENTIALS: "replace_refresh_token",
    Kind.DISCONNECT: "disconnect_integration",
    Kind.RECREATE: "create_integration",
    Kind.APPLY_POLICY: "change_botpolicy",
}


# The status each kind of fix aims at: its item is fixed only once the integration has it
# (applying a policy is judged by its meetings' bots, through an active connection).
AIM = {
    Kind.RESYNC: PortalStatus.ACTIVE,
    Kind.RESUBSCRIBE: PortalStatus.ACTIVE,
    Kind.PUSH_CREDENTIALS: PortalStatus.ACTIVE,
    Kind.DISCONNECT: PortalStatus.DISCONNECTED,
    Kind.RECREATE: PortalStatus.ACTIVE,
    Kind.APPLY_POLICY: PortalStatus.ACTIVE,
}
# How an item that did not fix was left, in the job's summary ("2 still in error").
LEFT_IN = {
    PortalStatus.ERROR: "still in error",
    PortalStatus.SYNCING: "still syncing",
    PortalStatus.ACTIVE: "still active",
    PortalStatus.DISCONNECTED: "disconnected",
}
# What to say when Meeting BaaS gives no message of its own for the status an item was left in.
WHY_LEFT = {
    PortalStatus.SYNCING: "Meeting BaaS has not finished syncing it; refresh it later to see "
    "whether it works.",
    PortalStatus.ACTIVE: "Meeting BaaS still holds the connection.",
}


def fixed_word(kind: str) -> str:
    """What an item that succeeded is, for the kind of job: "fixed", "disconnected", "done"."""
    return {Kind.DISCONNECT: "disconnected", Kind.APPLY_POLICY: "done"}.get(kind, "fixed")


@dataclass(frozen=True)
class Progress:
    kind: str
    total: int
    done: int  # fixed: the integration reached the status the fix aims at
    not_fixed: int
    failed: int
    pending: int
    # The not-fixed items by the status they were left in, most first: (("error", 2),).
    left_in: tuple[tuple[str, int], ...] = ()

    @property
    def finished(self) -> bool:
        return self.pending == 0

    @property
    def percent(self) -> int:
        worked = self.done + self.not_fixed + self.failed
        return 100 if not self.total else round(100 * worked / self.total)

    @property
    def fixed_word(self) -> str:
        return fixed_word(self.kind)

    @property
    def all_fixed(self) -> bool:
        return self.finished and self.done == self.total

    @property
    def summary(self) -> str:
        """The outcome in a sentence: "2 fixed, 2 still in error: see below."."""
        if not self.total:
            return "Nothing to do."
        if self.all_fixed:
            return f"{'All ' if self.total > 1 else ''}{self.total} {self.fixed_word}."
        parts = [f"{self.done} {self.fixed_word}"]
        if self.kind == Kind.APPLY_POLICY:
            # An item left undone is about its meetings, whatever its integration's status.
            parts += [f"{self.not_fixed} not done"] if self.not_fixed else []
        else:
            parts += [f"{n} {LEFT_IN.get(status, 'not fixed')}" for status, n in self.left_in]
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.pending:
            return f"Running: {', '.join(parts)}, {self.pending} to go."
        return f"{', '.join(parts)}: see below."


def describe_target(integrations: Sequence[Integration]) -> str:
    """Whose integrations a job is about, for its description: "2 integrations of Acme"."""
    count = f"{len(integrations)} integration{'' if len(integrations) == 1 else 's'}"
    customers = {i.credential.customer.name for i in integrations}
    if len(customers) == 1:
        return f"{count} of {customers.pop()}"
    return f"{count} of {len(customers)} customers" if customers else count


def start(
    kind: str,
    integration_ids: Iterable[int],
    *,
    acting_user: AbstractBaseUser | None,
    description: str,
    action: str | None = None,
    cause: Cause = Cause.ADMIN_ACTION,
) -> BulkJob:
    """Create the job and its items, and queue its lanes once they are committed.

    With `action`, each integration's action log says it was queued in this job, by whom;
    `cause` is what its status changes say moved them.
    """
    ids = sorted(set(integration_ids))
    with transaction.atomic():
        job = BulkJob.objects.create(
            kind=kind,
            description=fit(BulkJob, "description", description),
            created_by=acting_user,
            cause=cause,
        )
        BulkJobItem.objects.bulk_create([BulkJobItem(job=job, integration_id=pk) for pk in ids])
        job.items.update(status_before=_status_now())
        if action:
            record_for_each(acting_user, action, ids, message=f"queued in bulk job {job.pk}")
        transaction.on_commit(lambda: enqueue(job.pk, lanes=min(settings.BULK_LANES, len(ids))))
    return job


def enqueue(job_id: int, *, lanes: int | None = None) -> None:
    """Queue `lanes` (BULK_LANES) tasks for the job, each working beside the others."""
    BulkJob.objects.filter(pk=job_id).update(active_at=timezone.now())
    for _ in range(max(1, settings.BULK_LANES if lanes is None else lanes)):
        queue.enqueue("run_bulk_job", job_id, group="bulk", task_name=f"bulk-{job_id}")


def rerun(job: BulkJob, *, acting_user: AbstractBaseUser | None) -> int:
    """Once the job has finished, run again what did not succeed; returns how many items.

    Nothing while items are pending: the job's lanes (or the sweeper) still have them.
    """
    with transaction.atomic():
        # Locked, so two people asking at once re-run the job once.
        BulkJob.objects.select_for_update().get(pk=job.pk)
        if job.items.filter(state=State.PENDING).exists():
            return 0
        again = job.items.filter(state__in=[State.FAILED, State.NOT_FIXED]).update(
            state=State.PENDING,
            reason="",
            attempts=0,
            finished_at=None,
            status_before=_status_now(),
            status_after="",
            recreated_as=None,
        )
        if not again:
            return 0
        BulkJob.objects.filter(pk=job.pk).update(finished_at=None)
        record_action(
            acting_user,
            f"re-run bulk job {job.pk}",
            succeeded=True,
            message=f"{job}: {counted(again, 'item')} again",
        )
        transaction.on_commit(lambda: enqueue(job.pk))
    return again


def run(job_id: int) -> Progress:
    """One lane: take pending items one at a time until none is left or BULK_TASK_SECONDS pass.

    Other lanes, on this host or others, do the same beside it; a claim gives each item to one
    lane. Out of time, the lane queues its successor, so tasks stay short and well inside
    django-q2's timeout; it stops taking items early enough to check the last one's outcome
    within its time. A lane that dies loses only the item in hand: its claim lapses and
    another lane does it again (every kind of item is idempotent).
    """
    _give_back_claim()
    job = BulkJob.objects.get(pk=job_id)
    BulkJob.objects.filter(pk=job_id, started_at__isnull=True).update(started_at=timezone.now())
    acting_user = get_user_model().objects.filter(pk=job.created_by_id).first()
    perform = PERFORM[job.kind]
    if job.cause != Cause.ADMIN_ACTION:  # only a push of an owner's re-consent has another
        perform = functools.partial(perform, cause=job.cause)
    checked_for = check_seconds()
    deadline = time.monotonic() + settings.BULK_TASK_SECONDS - checked_for
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
            _finish(
                item,
                State.FAILED,
                f"gave up: its task died {item.attempts} times",
                status_after=_status_of(item.integration_id),
            )
            continue
        try:
            result = perform(item.integration_id, acting_user=acting_user)
        except Unreachable as exc:
            # Every other item would be refused too: the lane stops, the items wait, and the
            # catch-up (calendars/meetings/sync.py) queues the job again once it answers.
            _hold(item, exc)
            logger.info("bulk job %s held: %s", job_id, exc)
            return progress(job)
        except PROBLEMS as exc:
            _finish(item, State.FAILED, str(exc), status_after=_status_of(item.integration_id))
        else:
            if job.kind == Kind.APPLY_POLICY:
                _judge_policy(item, result)
            else:
                _judge(item, result, AIM[job.kind], checked_for, acting_user, job.cause)
    result = progress(job)
    BulkJob.objects.filter(pk=job_id, finished_at__isnull=True).update(finished_at=timezone.now())
    logger.info("bulk job %s (%s): %s", job_id, job.kind, result)
    return result


def _hold(item: BulkJobItem, exc: Unreachable) -> None:
    """Give the item back, pending, saying why it waits (not counted as a failed attempt)."""
    BulkJobItem.objects.filter(pk=item.pk).update(
        claimed_until=None,
        attempts=F("attempts") - 1,
        reason=fit(BulkJobItem, "reason", f"{HELD}{exc}"),
    )


def resume_held() -> list[int]:
    """Queue again the unfinished jobs whose items wait for Meeting BaaS (after an outage)."""
    held = list(
        BulkJob.objects.filter(
            finished_at__isnull=True,
            items__state=State.PENDING,
            items__reason__startswith=HELD,
        )
        .values_list("pk", flat=True)
        .distinct()
    )
    for job_id in held:
        enqueue(job_id)
    return held


def _give_back_claim() -> None:
    """Give back the claim this process held when its task lost the database (not counted as
    an attempt: the task did not die)."""
    global _in_hand
    if _in_hand is None:
        return
    item_pk, claimed_until = _in_hand
    BulkJobItem.objects.filter(pk=item_pk, state=State.PENDING, claimed_until=claimed_until).update(
        claimed_until=None, attempts=F("attempts") - 1
    )
    _in_hand = None


def _claim(job: BulkJob) -> BulkJobItem | None:
    """Take the next pending item no live lane holds (skip_locked: lanes never queue on a row)."""
    global _in_hand
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
            # django-q2 kills any task older than its timeout: by then the lane is gone.
            claimed_until = now + timedelta(seconds=settings.Q_CLUSTER["timeout"])
            BulkJobItem.objects.filter(pk=item.pk).update(
                attempts=F("attempts") + 1,
                claimed_until=claimed_until,
                worked_by=fit(BulkJobItem, "worked_by", settings.NODE_NAME),
            )
    if item is not None:
        _in_hand = (item.pk, claimed_until)
    return item


def check_seconds() -> float:
    """How long an item's outcome is checked: FIX_CHECK_SECONDS, within half a lane's time."""
    # The lane's last item must still be judged within the lane's BULK_TASK_SECONDS.
    return max(0.0, min(settings.FIX_CHECK_SECONDS, settings.BULK_TASK_SECONDS / 2))


def _judge(
    item: BulkJobItem,
    integration: Integration,
    aim: PortalStatus,
    seconds: float,
    acting_user: AbstractBaseUser | None,
    cause: str = Cause.ADMIN_ACTION,
) -> None:
    """Finish the item as fixed once its integration has the status `aim`, refreshing it for up
    to `seconds` while Meeting BaaS catches up; otherwise as not fixed, saying how it was left."""
    give_up_at = time.monotonic() + seconds
    checks = 0
    check_problem = ""
    while integration.status != aim and time.monotonic() < give_up_at:
        if not integration.is_reachable:
            break  # gone from Meeting BaaS: no refresh can bring it back
        pause = min(settings.FIX_CHECK_INTERVAL_SECONDS, give_up_at - time.monotonic())
        time.sleep(max(0.0, pause))
        checks += 1
        try:
            integration = refresh_integration(integration.pk, cause=cause, acting_user=acting_user)
            check_problem = ""
        except PROBLEMS as exc:
            check_problem = str(exc)
    recreated_as = integration if integration.pk != item.integration_id else None
    if integration.status == aim:
        _finish(item, State.DONE, "", status_after=integration.status, recreated_as=recreated_as)
        return
    reason = LEFT_IN.get(integration.status, integration.status).capitalize()
    if checks:
        reason += f" after {seconds:g} s"
    why = integration.error_message or WHY_LEFT.get(integration.status, "")
    reason += f": {why}" if why else "."
    if check_problem:
        reason += f" The last check failed: {check_problem}"
    _finish(
        item,
        State.NOT_FIXED,
        reason,
        status_after=integration.status,
        recreated_as=recreated_as,
    )


def _judge_policy(item: BulkJobItem, applied: bots.PolicyApplied) -> None:
    """Done once every known upcoming meeting of the integration that wanted the policy's bot
    got it; otherwise not done, saying why (a re-run asks again for what is left)."""
    integration = applied.integration
    if integration.status != PortalStatus.ACTIVE:
        connection = CONNECTION_IS.get(integration.status, "is not active")
        reason = (
            f"Its calendar connection {connection}: Meeting BaaS sends no bot through it. Its "
            "meetings get theirs from the policy once it is active again."
        )
        _finish(item, State.NOT_FIXED, reason, status_after=integration.status)
        return
    got = applied.asked - len(applied.failures)
    if applied.failures:
        reason = (
            f"{got} of {applied.asked} meeting(s) got their bot; {len(applied.failures)} did "
            f"not: {applied.failures[0]}"
        )
        _finish(item, State.NOT_FIXED, reason, status_after=integration.status)
        return
    reason = f"{got} meeting(s) got their bot." if got else "No meeting was waiting for a bot."
    _finish(item, State.DONE, reason, status_after=integration.status)


def _status_of(integration_id: int) -> str:
    return (
        Integration.objects.filter(pk=integration_id).values_list("status", flat=True).first() or ""
    )


def _status_now() -> Subquery:
    """Each item's integration's current status, for an update of many items at once."""
    return Subquery(Integration.objects.filter(pk=OuterRef("integration_id")).values("status")[:1])


def _finish(
    item: BulkJobItem,
    state: str,
    reason: str,
    *,
    status_after: str = "",
    recreated_as: Integration | None = None,
) -> None:
    global _in_hand
    with transaction.atomic():
        BulkJobItem.objects.filter(pk=item.pk).update(
            state=state,
            reason=fit(BulkJobItem, "reason", reason),
            status_after=status_after,
            recreated_as=recreated_as,
            finished_at=timezone.now(),
            claimed_until=None,
        )
        _record_outcome(item, state, reason)
    _in_hand = None


def _record_outcome(item: BulkJobItem, state: str, reason: str) -> None:
    """The item's outcome in its integration's action log, under the person who started the
    job: what it was queued for is done only once it worked."""
    job = item.job  # known to the item: it was claimed through the job's items
    fixed = state == State.DONE
    record_action(
        job.created_by,
        job.get_kind_display(),
        integration=Integration(pk=item.integration_id),
        succeeded=fixed,
        message=f"bulk job {job.pk}: {fixed_word(job.kind) if fixed else reason}",
    )


def sweep() -> list[int]:
    """Queue again the unfinished jobs no lane has worked on lately (their tasks were lost).

    The ORM broker delivers a dead worker's task again after Q_RETRY; Redis loses it for good.
    Either way a job silent for that long has no live lane. Not while Meeting BaaS is
    unreachable: every lane would stop at its first item (the catch-up resumes them).
    """
    if breaker.current() is not None:
        return []
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
        not_fixed=Count("pk", filter=Q(state=State.NOT_FIXED)),
        failed=Count("pk", filter=Q(state=State.FAILED)),
    )
    left_in = (
        job.items.filter(state=State.NOT_FIXED)
        .values_list("status_after")
        .annotate(n=Count("pk"))
        .order_by("-n", "status_after")
    )
    pending = counts["total"] - counts["done"] - counts["not_fixed"] - counts["failed"]
    return Progress(
        kind=job.kind,
        **counts,
        pending=pending,
        left_in=tuple(left_in) if counts["not_fixed"] else (),
    )
