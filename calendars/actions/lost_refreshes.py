"""Refreshes a person asked for ("Refresh status") whose task was lost: queued again once, then
recorded as not done.

A worker that dies takes the tasks it held with it; the ORM broker delivers them again after
Q_RETRY, Redis never does. A refresh still queued (its record) after Q_RETRY, whose integration
was not refreshed since and whose task never ran, was lost: it is queued again, and if that one
is lost too, its record says "not done" so the person sees it was not. Both count in
portal_tasks_lost_total. Bulk jobs (the consent's credential pushes among them) recover their
own items (bulk.sweep); a bot policy task lost before claiming its meetings is queued again by
their next sync; "Schedule bot" runs in the request.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q
from django.utils import timezone
from django_q.models import Task

from calendars import queue
from calendars.actions.audit import record_action
from calendars.actions.refresh import refresh_task_name
from calendars.metrics import names, totals
from calendars.models import ActionRecord, Integration
from calendars.outage import breaker

logger = logging.getLogger(__name__)

REFRESH = "refresh status"
REQUEUED = "queued again: its task was lost (a worker stopped before running it)"
NOT_DONE = "not done: its task was lost twice (workers stopped); refresh it again"
# Records older than this are not looked at again (each sweep reads a bounded range).
LOOKED_BACK = timedelta(days=1)
TASK = "refresh_integration"


@dataclass(frozen=True)
class Swept:
    requeued: int = 0
    not_done: int = 0

    @property
    def lost(self) -> int:
        return self.requeued + self.not_done


def sweep() -> Swept:
    """Queue again each lost refresh once; record the twice lost as not done."""
    if breaker.current() is not None:
        return Swept()  # held back, not lost: the catch-up refreshes after an outage
    now = timezone.now()
    later = ActionRecord.objects.filter(
        integration=OuterRef("integration"), action=REFRESH, pk__gt=OuterRef("pk")
    )
    waiting = (
        ActionRecord.objects.filter(
            action=REFRESH,
            succeeded=None,
            at__gte=now - LOOKED_BACK,
            at__lt=now - timedelta(seconds=settings.Q_CLUSTER["retry"]),
            integration__isnull=False,
        )
        .filter(~Q(integration__last_refreshed_at__gte=F("at")))
        .filter(~Exists(later))
        .select_related("user")
    )
    requeued = not_done = 0
    for record in waiting:
        outcome = _settle(record)
        requeued += outcome == REQUEUED
        not_done += outcome == NOT_DONE
    return Swept(requeued=requeued, not_done=not_done)


def lost_since(since: datetime) -> Swept:
    """How many refreshes were found lost since `since` (the home page's count)."""
    found = ActionRecord.objects.filter(
        action=REFRESH, at__gte=since, message__in=(REQUEUED, NOT_DONE)
    )
    by_message = dict(found.values_list("message").annotate(n=Count("pk")).order_by())
    return Swept(requeued=by_message.get(REQUEUED, 0), not_done=by_message.get(NOT_DONE, 0))


def _settle(record: ActionRecord) -> str | None:
    with transaction.atomic():
        integration = Integration.objects.select_for_update().get(pk=record.integration_id)
        answered = ActionRecord.objects.filter(
            integration=integration, action=REFRESH, pk__gt=record.pk
        ).exists()
        refreshed = integration.last_refreshed_at and integration.last_refreshed_at >= record.at
        # A task that ran and failed, or found nothing newer to store, was not lost.
        ran = Task.objects.filter(name=refresh_task_name(integration.pk), started__gte=record.at)
        if answered or refreshed or not integration.is_reachable or ran.exists():
            return None
        outcome = NOT_DONE if record.message == REQUEUED else REQUEUED
        record_action(
            record.user,
            REFRESH,
            integration=integration,
            succeeded=None if outcome == REQUEUED else False,
            message=outcome,
        )
        label = "requeued" if outcome == REQUEUED else "not_done"
        totals.add_now(names.TASKS_LOST, {"task": TASK, "outcome": label})
        if outcome == REQUEUED:
            queue.enqueue_on_commit(
                TASK, integration.pk, group="refresh", task_name=refresh_task_name(integration.pk)
            )
    logger.warning("refresh of integration %s lost: %s", integration.pk, outcome)
    return outcome
