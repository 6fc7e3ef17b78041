"""django-q2 entry points: plain functions given ids, each safe to run more than once.

django-q2 stores task arguments and failures verbatim (and shows them in its admin), so
nothing here takes or returns a secret. `TASKS`, at the end, lists the only functions a
worker may run.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from uuid import UUID

from django.conf import settings
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task

from calendars import bulk, operations, webhook_events
from calendars.meetingbaas.types import PortalStatus
from calendars.models import BulkJob, BulkJobItem, Heartbeat, Integration, WebhookDelivery

REFRESH_ALL_SCHEDULE = "Refresh all integration statuses"
WEBHOOK_SWEEP_SCHEDULE = "Process webhook deliveries left pending"
HEARTBEAT_SCHEDULE = "Cluster heartbeat"
BULK_SWEEP_SCHEDULE = "Resume bulk jobs whose tasks were lost"
RENEWAL_SCHEDULE = "Renew push subscriptions about to lapse"
# One renewal job takes at most this many integrations; the next hour takes the rest.
RENEWALS_PER_RUN = 5000


def heartbeat() -> str:
    """Prove to /healthz that a cluster is taking tasks."""
    Heartbeat.objects.update_or_create(
        node=settings.NODE_NAME, defaults={"seen_at": timezone.now()}
    )
    return settings.NODE_NAME


def refresh_integration(integration_id: int) -> str:
    """Refresh one integration (idempotent: it only stores what the API says now)."""
    try:
        integration = operations.refresh_integration(integration_id)
    except Integration.DoesNotExist:
        return f"integration {integration_id} no longer exists"
    return f"integration {integration_id} is {integration.status}"


def run_bulk_job(job_id: int) -> str:
    """Work through a bulk job's pending items (resumable: finished items are skipped)."""
    result = bulk.run(job_id)
    return f"{result.done} done, {result.failed} failed, {result.pending} pending"


def process_webhook(delivery_pk: int) -> str:
    """Apply a stored webhook delivery (idempotent: a processed delivery is left alone)."""
    return webhook_events.process(delivery_pk)


def retry_unknown_connection(remote_id: str) -> int:
    """Apply webhooks that arrived for a connection before its integration existed."""
    return webhook_events.retry_unknown_connection(UUID(remote_id))


def sweep_pending_webhooks() -> int:
    """Queue again the deliveries whose task was lost (a broker outage, a killed worker)."""
    stale = timezone.now() - timedelta(minutes=2)
    pending = WebhookDelivery.objects.filter(
        outcome=WebhookDelivery.Outcome.PENDING, received_at__lt=stale
    )
    ids = list(pending.values_list("pk", flat=True)[:1000])
    for delivery_pk in ids:
        async_task(
            process_webhook, delivery_pk, group="webhooks", task_name=f"webhook-{delivery_pk}"
        )
    return len(ids)


def sweep_bulk_jobs() -> int:
    """Queue again the bulk jobs whose tasks were lost (a killed cluster, Redis)."""
    return len(bulk.sweep())


def renew_expiring_subscriptions() -> str:
    """Start a bulk job renewing the push subscriptions that lapse within the coming hours.

    Integrations already waiting in an unfinished renewal job are left to it, so a slow job
    is never doubled by the next hour's check.
    """
    lapse_before = timezone.now() + timedelta(hours=settings.SUBSCRIPTION_RENEW_HOURS)
    in_hand = BulkJobItem.objects.filter(
        job__kind=BulkJob.Kind.RESUBSCRIBE,
        job__finished_at__isnull=True,
        state=BulkJobItem.State.PENDING,
    ).values("integration_id")
    ids = list(
        Integration.objects.filter(
            api_version="v2",
            status=PortalStatus.ACTIVE,
            subscription_expires_at__lt=lapse_before,
        )
        .exclude(pk__in=in_hand)
        .order_by("subscription_expires_at")
        .values_list("pk", flat=True)[:RENEWALS_PER_RUN]
    )
    if not ids:
        return "no subscription lapses soon"
    job = bulk.start(
        BulkJob.Kind.RESUBSCRIBE,
        ids,
        user=None,
        description=f"scheduled: {len(ids)} subscription(s) lapsing within "
        f"{settings.SUBSCRIPTION_RENEW_HOURS} h",
    )
    return f"bulk job {job.pk} renews {len(ids)} subscription(s)"


def refresh_all_integrations() -> dict[str, int]:
    """Refresh every live integration, each API version in use from its own listing."""
    totals: dict[str, int] = {}
    versions = Integration.objects.values_list("api_version", flat=True).distinct()
    for version in sorted(set(versions) | {settings.MEETINGBAAS_API_VERSION}):
        for name, value in asdict(operations.refresh_all(version)).items():
            totals[name] = totals.get(name, 0) + value
    return totals


def enqueue_refresh(integration_ids: list[int]) -> list[str]:
    """Queue a refresh for each integration; returns the django-q2 task ids."""
    return [
        async_task(
            refresh_integration,
            integration_id,
            group="refresh",
            task_name=f"refresh-{integration_id}",
        )
        for integration_id in integration_ids
    ]


class TaskNotAllowed(Exception):
    """A task or schedule names a function that is not one of `TASKS`."""


def refused(reason: str) -> None:
    """Stand in for a task refused when it was queued, so the refusal is a failed task."""
    raise TaskNotAllowed(f"refused, nothing ran: {reason}")


def ensure_schedules() -> None:
    """Create or update the periodic tasks (the refresh follows STATUS_REFRESH_MINUTES)."""
    for name, func, minutes in (
        (
            REFRESH_ALL_SCHEDULE,
            "calendars.tasks.refresh_all_integrations",
            settings.STATUS_REFRESH_MINUTES,
        ),
        (WEBHOOK_SWEEP_SCHEDULE, "calendars.tasks.sweep_pending_webhooks", 5),
        (BULK_SWEEP_SCHEDULE, "calendars.tasks.sweep_bulk_jobs", 2),
        (RENEWAL_SCHEDULE, "calendars.tasks.renew_expiring_subscriptions", 60),
        (HEARTBEAT_SCHEDULE, "calendars.tasks.heartbeat", 1),
    ):
        Schedule.objects.update_or_create(
            name=name,
            defaults={
                "func": func,
                "schedule_type": Schedule.MINUTES,
                "minutes": minutes,
                "repeats": -1,
            },
        )


# The only functions django-q2 may run, whoever queues or schedules them: any other importable
# function named by a schedule or a task would run on the workers with their access.
# calendars/task_guard.py enforces this when a schedule is saved, when a task is queued and
# when a worker takes one. Add a new task here, by function, or it will be refused.
TASKS = (
    heartbeat,
    refresh_integration,
    run_bulk_job,
    process_webhook,
    retry_unknown_connection,
    sweep_pending_webhooks,
    sweep_bulk_jobs,
    renew_expiring_subscriptions,
    refresh_all_integrations,
    refused,
)
