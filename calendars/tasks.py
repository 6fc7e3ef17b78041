"""django-q2 entry points: plain functions given ids, each safe to run more than once.

Each loads what it needs, calls an action and returns a short result; the policy lives in
the actions. Workers run only the functions `calendars.queue.TASKS` names. django-q2 stores
task arguments and failures verbatim (and shows them in its admin), so nothing here takes or
returns a secret.

A task that loses its database connection (a restart, a failover, a cut connection) is run
again on a new one (`reconnecting`), except those that start new work (a reconciliation, a
renewal job), which their schedule runs again instead: run twice, they would start it twice.
"""

from __future__ import annotations

from dataclasses import asdict
from uuid import UUID

from django.conf import settings
from django.utils import timezone

from calendars import queue
from calendars.actions import (
    bulk,
    lost_refreshes,
    reconciliation,
    refresh,
    subscriptions,
    webhook_deliveries,
)
from calendars.consent import outreach
from calendars.lib.database import reconnecting
from calendars.lib.words import counted
from calendars.meetings import bot_news, bots, coverage, follow, outcomes
from calendars.meetings import sync as meetings
from calendars.models import Heartbeat, Integration, Reconciliation
from calendars.notify import digest
from calendars.queue import TaskNotAllowed


@reconnecting
def heartbeat() -> str:
    """Prove to /healthz that a cluster is taking tasks."""
    Heartbeat.objects.update_or_create(
        node=settings.NODE_NAME, defaults={"seen_at": timezone.now()}
    )
    return settings.NODE_NAME


@reconnecting
def refresh_integration(integration_id: int) -> str:
    """Refresh one integration (idempotent: it only stores what the API says now)."""
    try:
        integration = refresh.refresh_integration(integration_id)
    except Integration.DoesNotExist:
        return f"integration {integration_id} no longer exists"
    return f"integration {integration_id} is {integration.status}"


@reconnecting
def run_bulk_job(job_id: int) -> str:
    """Work through a bulk job's pending items (resumable: finished items are skipped)."""
    result = bulk.run(job_id)
    return result.summary


@reconnecting
def process_webhook(delivery_pk: int) -> str:
    """Apply a stored webhook delivery (idempotent: a processed delivery is left alone)."""
    return webhook_deliveries.process(delivery_pk)


@reconnecting
def apply_bot_news() -> int:
    """Apply the bot webhooks stored and pending, in batches (idempotent: each once)."""
    return webhook_deliveries.apply_bot_news()


@reconnecting
def retry_unknown_connection(remote_id: str) -> int:
    """Apply webhooks that arrived for a connection before its integration existed."""
    return webhook_deliveries.retry_unknown_connection(UUID(remote_id))


@reconnecting
def sweep_pending_webhooks() -> int:
    """Queue again the deliveries whose task was lost (a broker outage, a killed worker)."""
    return webhook_deliveries.sweep_pending()


@reconnecting
def sweep_lost_refreshes() -> str:
    """Queue again the refreshes people asked for whose tasks were lost; record twice lost."""
    swept = lost_refreshes.sweep()
    return f"{swept.requeued} queued again, {swept.not_done} not done"


@reconnecting
def sweep_bulk_jobs() -> int:
    """Queue again the bulk jobs whose tasks were lost (a killed cluster, Redis)."""
    return len(bulk.sweep())


def renew_expiring_subscriptions() -> str:
    """Start a bulk job renewing the push subscriptions that lapse within the coming hours."""
    job = subscriptions.renew_expiring_subscriptions()
    if job is None:
        return "no subscription lapses soon"
    return f"bulk job {job.pk} renews {counted(job.items.count(), 'subscription')}"


@reconnecting
def refresh_all_integrations() -> dict[str, int]:
    """Refresh every live integration, each API version in use from its own listing."""
    return asdict(refresh.refresh_every_version())


@reconnecting
def queue_meeting_syncs() -> int:
    """Queue this minute's share of the active integrations' meeting window syncs."""
    return meetings.queue_due_syncs()


@reconnecting
def sync_meeting_windows(integration_ids: list[int]) -> dict[str, int]:
    """List each integration's meetings window into the mirror (idempotent: it stores what
    the API says now)."""
    return meetings.sync_windows(integration_ids)


@reconnecting
def apply_bot_policy(meeting_ids: list[int]) -> str:
    """Schedule the bot policy's bots on meetings that still want one (once per event)."""
    asked = bots.apply_policy(meeting_ids)
    # The copies of a shared meeting asked for carry its bot, or are covered by it.
    outcomes.refresh({*meeting_ids, *(attempt.meeting.pk for attempt in asked)})
    done = sum(attempt.succeeded for attempt in asked)
    return f"{done} of {counted(len(asked), 'bot')} scheduled"


@reconnecting
def ask_lost_bots_again() -> str:
    """Ask again for the bots whose asks stopped tasks never answered (bots.lost_asks)."""
    reopened = bots.reopen_lost_asks()
    for start in range(0, len(reopened), bots.LOST_ASKS_A_TASK):
        queue.enqueue(
            "apply_bot_policy", reopened[start : start + bots.LOST_ASKS_A_TASK], group="bots"
        )
    return f"{counted(len(reopened), 'lost ask')} asked again"


@reconnecting
def follow_meetings(meeting_ids: list[int], changed: bool) -> str:
    """Make the bots of meetings moved, re-addressed, cancelled or declined follow them."""
    done = follow.follow(meeting_ids, changed=changed)
    outcomes.refresh(meeting_ids)
    return f"{sum(o.succeeded for o in done)} of {counted(len(done), 'bot')} followed"


@reconnecting
def move_shared_bots() -> str:
    """Move the bots of shared meetings whose carrying copy went away to another copy."""
    touched = bots.move_bots()
    outcomes.refresh(touched)
    return f"{counted(len(touched), 'meeting copy', 'meeting copies')} looked at again"


@reconnecting
def settle_meeting_outcomes() -> str:
    """Judge the outcomes of the meetings that ended since they were last judged, then count
    the coverage report's open days again from them."""
    changed = outcomes.settle()
    days = coverage.count_pass()
    return f"{counted(changed, 'meeting outcome')} changed, {counted(days, 'day')} counted"


@reconnecting
def poll_bot_news() -> str:
    """Ask the bots lists about meetings that ended without a final word of their bot."""
    polled = bot_news.poll()
    said = (
        f"{counted(polled.waiting, 'meeting')} waiting, {counted(polled.calls, 'call')}, "
        f"{polled.applied} applied"
    )
    return f"{said}; stopped: {polled.error}" if polled.error else said


def refused(reason: str) -> None:
    """Stand in for a task refused when it was queued, so the refusal is a failed task."""
    raise TaskNotAllowed(f"refused, nothing ran: {reason}")


@reconnecting
def check_v1_health() -> str:
    """Resync every v1 calendar once and apply the answer to every v1 integration it names."""
    applied = refresh.check_v1_health()
    if applied is None:
        return "no v1 integration"
    return f"{applied.errors} in error, {applied.recovered} recovered"


@reconnecting
def run_reconciliation(run_id: int) -> str:
    """Go on with a reconciliation for BULK_TASK_SECONDS, then queue the rest (resumable: each
    page is committed with the run's move past it; a finished run is left as it is)."""
    return _reconciled(reconciliation.run_reconciliation(run_id))


@reconnecting
def sweep_reconciliations() -> int:
    """Queue again the unfinished reconciliations whose tasks were lost (a killed cluster,
    Redis)."""
    return len(reconciliation.sweep())


def reconcile_daily() -> str:
    """Queue the day's reconciliation (in a task of its own, which may run longer)."""
    return f"{reconciliation.start(acting_user=None)} queued"


def _reconciled(run: Reconciliation) -> str:
    if run.finished_at is None:
        return f"{run}: {run.listed} listed so far, going on in its next task"
    return (
        f"{run}: {run.listed} listed, {run.orphans} orphans, {run.ghosts} ghosts, "
        f"{run.drift} drift{'' if run.succeeded else ', failed: ' + run.error}"
    )


@reconnecting
def run_outreach() -> str:
    """Start, continue and end the re-consent outreach (each e-mail recorded as it goes)."""
    return str(outreach.run())


@reconnecting
def notify_support() -> str:
    """Tell support what is new (each kind at most once an hour; each notice recorded)."""
    sent = digest.run()
    return ", ".join(notice.kind for notice in sent) or "nothing new"
