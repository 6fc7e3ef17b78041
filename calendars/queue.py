"""django-q2 work by name: the one place a task's dotted path is written.

Actions queue work by registered name, so they never import the entry points in `tasks.py`
(which import the actions); the schedules are built from the same registry, and
`task_guard` lets workers run nothing else. A renamed task fails `tests/unit/test_queue.py`,
not a worker at run time.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django_q.models import Schedule
from django_q.tasks import async_task

# Every function a worker may run, by the name the portal queues it under.
TASKS: dict[str, str] = {
    "heartbeat": "calendars.tasks.heartbeat",
    "refresh_integration": "calendars.tasks.refresh_integration",
    "refresh_all_integrations": "calendars.tasks.refresh_all_integrations",
    "run_bulk_job": "calendars.tasks.run_bulk_job",
    "process_webhook": "calendars.tasks.process_webhook",
    "apply_bot_news": "calendars.tasks.apply_bot_news",
    "retry_unknown_connection": "calendars.tasks.retry_unknown_connection",
    "sweep_pending_webhooks": "calendars.tasks.sweep_pending_webhooks",
    "sweep_bulk_jobs": "calendars.tasks.sweep_bulk_jobs",
    "sweep_lost_refreshes": "calendars.tasks.sweep_lost_refreshes",
    "renew_expiring_subscriptions": "calendars.tasks.renew_expiring_subscriptions",
    "queue_meeting_syncs": "calendars.tasks.queue_meeting_syncs",
    "sync_meeting_windows": "calendars.tasks.sync_meeting_windows",
    "apply_bot_policy": "calendars.tasks.apply_bot_policy",
    "move_shared_bots": "calendars.tasks.move_shared_bots",
    "ask_lost_bots_again": "calendars.tasks.ask_lost_bots_again",
    "follow_meetings": "calendars.tasks.follow_meetings",
    "poll_bot_news": "calendars.tasks.poll_bot_news",
    "settle_meeting_outcomes": "calendars.tasks.settle_meeting_outcomes",
    "check_v1_health": "calendars.tasks.check_v1_health",
    "run_reconciliation": "calendars.tasks.run_reconciliation",
    "reconcile_daily": "calendars.tasks.reconcile_daily",
    "sweep_reconciliations": "calendars.tasks.sweep_reconciliations",
    "run_outreach": "calendars.tasks.run_outreach",
    "notify_support": "calendars.tasks.notify_support",
    # Stands in for a task refused when it was queued (task_guard), so the refusal shows.
    "refused": "calendars.tasks.refused",
}


class TaskNotAllowed(Exception):
    """A task or schedule names a function that is not one of `TASKS`."""


REFRESH_ALL_SCHEDULE = "Refresh all integration statuses"
WEBHOOK_SWEEP_SCHEDULE = "Process webhook deliveries left pending"
HEARTBEAT_SCHEDULE = "Cluster heartbeat"
BULK_SWEEP_SCHEDULE = "Resume bulk jobs whose tasks were lost"
LOST_REFRESH_SCHEDULE = "Queue again refreshes whose tasks were lost"
RENEWAL_SCHEDULE = "Renew push subscriptions about to lapse"
MEETING_SYNC_SCHEDULE = "Sync meetings (this minute's share of the calendars)"
OUTCOMES_SCHEDULE = "Judge the outcomes of meetings that just ended"
V1_HEALTH_SCHEDULE = "Check v1 calendars (resync all)"
RECONCILIATION_SCHEDULE = "Reconcile with Meeting BaaS"
RECONCILIATION_MINUTES = 24 * 60
RECONCILIATION_SWEEP_SCHEDULE = "Resume reconciliations whose tasks were lost"
BOT_POLL_SCHEDULE = "Ask Meeting BaaS about bots of ended meetings without news"
BOT_POLL_MINUTES = 10
OUTREACH_SCHEDULE = "Re-consent outreach (e-mail the owners of broken grants)"
NOTIFY_SCHEDULE = "Tell support what broke"
SHARED_BOTS_SCHEDULE = "Move shared meetings' bots off copies that went away"
LOST_ASKS_SCHEDULE = "Ask again for bots whose asks were lost"
LOST_ASKS_MINUTES = 5


@dataclass(frozen=True)
class Periodic:
    name: str
    task: str
    minutes: int  # 0: switched off


def periodic_tasks() -> list[Periodic]:
    """The portal's schedules (the refresh follows STATUS_REFRESH_MINUTES, the v1 check
    V1_HEALTH_MINUTES)."""
    return [
        Periodic(REFRESH_ALL_SCHEDULE, "refresh_all_integrations", settings.STATUS_REFRESH_MINUTES),
        Periodic(WEBHOOK_SWEEP_SCHEDULE, "sweep_pending_webhooks", 5),
        Periodic(BULK_SWEEP_SCHEDULE, "sweep_bulk_jobs", 2),
        Periodic(LOST_REFRESH_SCHEDULE, "sweep_lost_refreshes", 2),
        Periodic(RENEWAL_SCHEDULE, "renew_expiring_subscriptions", 60),
        # Every minute, each integration in its turn (calendars/meetings/sync.py).
        Periodic(MEETING_SYNC_SCHEDULE, "queue_meeting_syncs", 1),
        Periodic(HEARTBEAT_SCHEDULE, "heartbeat", 1),
        Periodic(OUTCOMES_SCHEDULE, "settle_meeting_outcomes", 5),
        Periodic(V1_HEALTH_SCHEDULE, "check_v1_health", settings.V1_HEALTH_MINUTES),
        Periodic(RECONCILIATION_SCHEDULE, "reconcile_daily", RECONCILIATION_MINUTES),
        Periodic(RECONCILIATION_SWEEP_SCHEDULE, "sweep_reconciliations", 2),
        Periodic(BOT_POLL_SCHEDULE, "poll_bot_news", BOT_POLL_MINUTES),
        # Every minute: an owner hears within two minutes of the diagnosis.
        Periodic(OUTREACH_SCHEDULE, "run_outreach", 1),
        Periodic(NOTIFY_SCHEDULE, "notify_support", 5),
        # Every minute: a carrier's calendar broken shortly before the meeting still leaves
        # time to schedule the bot on another copy.
        Periodic(SHARED_BOTS_SCHEDULE, "move_shared_bots", 1),
        Periodic(LOST_ASKS_SCHEDULE, "ask_lost_bots_again", LOST_ASKS_MINUTES),
    ]


def ensure_schedules() -> None:
    """Create or update the periodic tasks, and remove those switched off (run by every
    `migrate`)."""
    for periodic in periodic_tasks():
        if periodic.minutes <= 0:
            Schedule.objects.filter(name=periodic.name).delete()
            continue
        Schedule.objects.update_or_create(
            name=periodic.name,
            defaults={
                "func": TASKS[periodic.task],
                "schedule_type": Schedule.MINUTES,
                "minutes": periodic.minutes,
                "repeats": -1,
            },
        )


def enqueue(
    task: str,
    *args: object,
    group: str,
    task_name: str | None = None,
    timeout: int | None = None,
    keeps_success: bool = True,
) -> str:
    """Queue the registered `task` now (`timeout`: seconds it may run, instead of Q_TIMEOUT;
    `keeps_success`: whether a success is kept among the successful tasks, as failures always
    are); returns django-q2's task id."""
    options: dict[str, object] = {"timeout": timeout} if timeout else {}
    if not keeps_success:
        options["save"] = False
    return async_task(TASKS[task], *args, group=group, task_name=task_name, **options)


def enqueue_on_commit(
    task: str,
    *args: object,
    group: str,
    task_name: str | None = None,
    timeout: int | None = None,
    keeps_success: bool = True,
) -> None:
    """Queue the registered `task` once the current transaction commits (at once outside one).

    A task queued inside a transaction could run before its rows are visible to the worker,
    or after they were rolled back.
    """
    transaction.on_commit(
        lambda: enqueue(
            task,
            *args,
            group=group,
            task_name=task_name,
            timeout=timeout,
            keeps_success=keeps_success,
        )
    )
