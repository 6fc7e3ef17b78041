"""Keeping the mirror current: the window sync of active integrations, and webhook news.

The periodic sync lists each active integration's window in one paged call (never one
request per event). Its schedule runs every minute and takes the integrations whose turn it
is (their id modulo MEETINGS_SYNC_MINUTES), so the calls spread evenly over the interval.
While Meeting BaaS is unreachable (calendars/outage/) it queues only the probe; the first run
after it answers queues every active integration's sync (each asks the bot policy again for
the meetings it could not get a bot for), a refresh of every integration and the bulk jobs
whose items wait for it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from calendars import queue
from calendars.actions import bulk
from calendars.meetingbaas import client
from calendars.meetingbaas.errors import EventNotFound, Unreachable
from calendars.meetingbaas.types import RemoteEvent
from calendars.meetings import follow, mirror, outcomes, policy
from calendars.models import Integration, Meeting
from calendars.outage import breaker
from calendars.problems import PROBLEMS
from calendars.status import PortalStatus

logger = logging.getLogger(__name__)
# Integrations one task syncs, one after the other.
BATCH = 50
# A v1 webhook naming more events than this is answered with one listing of the window
# rather than one GET per event.
FETCH_AT_MOST = 20


@dataclass(frozen=True)
class WindowSync:
    listed: int
    applied: mirror.Applied
    pruned: int
    queued_bots: int


def sync_window(integration_id: int) -> WindowSync | None:
    """List the integration's window and make the mirror match it; None when not active."""
    integration = Integration.objects.get(pk=integration_id)
    if integration.status != PortalStatus.ACTIVE:
        return None
    within = mirror.window()
    as_of = mirror.whole_second(timezone.now())
    events = list(
        client(integration.api_version).iter_events(
            integration.remote_id, start=within.start, end=within.end
        )
    )
    with transaction.atomic():
        # Locked as the webhooks lock it: news about one calendar is applied one at a time.
        integration = Integration.objects.select_for_update().get(pk=integration_id)
        applied = mirror.apply_events(integration, events, as_of=as_of, within=within)
        listed = {event.event_id for event in events}
        pruned = mirror.prune_unlisted(integration, listed, as_of=as_of, within=within)
        # Every meeting, not only the changed ones: a policy switched on reaches them all.
        queued = policy.consider(integration)
        follow.consider(integration, applied, as_of=as_of)
        judge_again(integration, applied.touched, queued)
    return WindowSync(len(events), applied, pruned, len(queued))


def sync_windows(integration_ids: list[int]) -> dict[str, int]:
    """Sync each integration's window; one that fails is counted and logged, the rest go on.

    A batch works for BULK_TASK_SECONDS at most, then queues what is left as a task of its own
    (`passed_on`): against a Meeting BaaS that answers slowly (each listing may wait out
    MEETINGBAAS_TIMEOUT and its retries), 50 syncs could outlast Q_TIMEOUT, and the task killed
    then would drop the batch's rest until their next turn. Once Meeting BaaS is unreachable
    the rest are left to the catch-up ("deferred"): one line in the log, not one error per
    integration.
    """
    counts = {"synced": 0, "skipped": 0, "failed": 0, "deferred": 0}
    deadline = time.monotonic() + settings.BULK_TASK_SECONDS
    for n, integration_id in enumerate(integration_ids):
        if n and time.monotonic() > deadline:
            rest = integration_ids[n:]
            queue.enqueue("sync_meeting_windows", rest, group="meetings")
            counts["passed_on"] = len(rest)
            break
        try:
            result = sync_window(integration_id)
        except Integration.DoesNotExist:
            result = None
        except Unreachable as exc:
            counts["deferred"] = len(integration_ids) - n
            logger.info("meeting window syncs deferred: %s", exc)
            break
        except PROBLEMS:
            logger.exception("meeting window sync of integration %s failed", integration_id)
            counts["failed"] += 1
            continue
        counts["synced" if result is not None else "skipped"] += 1
    return counts


def queue_due_syncs(now: datetime | None = None) -> int:
    """Queue this minute's share of the active integrations' window syncs, in batches, and
    forget the meetings that left the window; returns how many integrations.

    During an outage: only the probe, when it is due (one sync). The first run after it: every
    active integration, and a refresh of all of them (the catch-up).
    """
    now = now or timezone.now()
    slices = settings.MEETINGS_SYNC_MINUTES
    turn = int(now.timestamp() // 60) % slices
    active = (
        Integration.objects.filter(status=PortalStatus.ACTIVE)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    outage = breaker.current()
    if outage is not None:
        due = [] if outage.next_probe_at and outage.next_probe_at > now else list(active[:1])
    elif breaker.claim_catch_up():
        due = list(active.iterator())
        queue.enqueue("refresh_all_integrations", group="refresh")
        held = bulk.resume_held()
        logger.warning(
            "Meeting BaaS answers again: %d window syncs, a refresh and %d held bulk job(s) queued",
            len(due),
            len(held),
        )
    else:
        due = [pk for pk in active.iterator() if pk % slices == turn]
    for start in range(0, len(due), BATCH):
        queue.enqueue("sync_meeting_windows", due[start : start + BATCH], group="meetings")
    mirror.prune_outside()
    return len(due)


def apply_news(
    integration: Integration, events: list[RemoteEvent], *, as_of: datetime, updated: bool = False
) -> str:
    """Apply a webhook's events to the mirror (the integration locked); returns "applied",
    "stale" (all older than what is held) or "recorded" (nothing of the window). `updated`:
    news of events changed in a way it may not tell (v2's event_updated names no attendees),
    so those with a bot are read back."""
    applied = mirror.apply_events(integration, events, as_of=as_of)
    queued = policy.consider(integration, applied.touched)
    looked_at = [event.event_id for event in events] if updated else []
    follow.consider(integration, applied, as_of=as_of, updated=looked_at)
    # The policy looked at the touched meetings alone: when each is new and it queued each,
    # its task judges them all (the common news: meetings added to a calendar).
    if not applied.created == len(applied.touched) == len(queued):
        judge_again(integration, applied.touched, queued)
    if applied.applied:
        return "applied"
    return "stale" if applied.stale else "recorded"


def fetch_news(integration: Integration, event_ids: list[UUID]) -> str:
    """Fetch the events a v1 webhook names (it carries only their ids) and apply them, as
    true when the fetch began."""
    api = client(integration.api_version)
    as_of = mirror.whole_second(timezone.now())
    if len(event_ids) > FETCH_AT_MOST:
        within = mirror.window()
        listed = api.iter_events(integration.remote_id, start=within.start, end=within.end)
        named = set(event_ids)
        return apply_news(integration, [e for e in listed if e.event_id in named], as_of=as_of)
    events, gone = [], []
    for event_id in event_ids:
        try:
            events.append(api.get_event(integration.remote_id, event_id))
        except EventNotFound:
            gone.append(event_id)
    removed = mirror.remove_events(integration, gone, as_of=as_of)
    outcome = apply_news(integration, events, as_of=as_of)
    return "applied" if removed else outcome


def judge_again(integration: Integration, event_ids: list[UUID], queued: list[int]) -> int:
    """Judge again the outcomes of the integration's meetings whose scheduling news changed.

    A meeting new to the mirror and `queued` for the policy's bot is left to that task, which
    judges it once it has asked (tasks.apply_bot_policy), moments later: judged here too, its
    outcome would be written only to be replaced. Until then it reads "" (nothing known yet),
    as the settling pass finds it should that task be lost.
    """
    if not event_ids:
        return 0
    meetings = Meeting.objects.filter(integration=integration, remote_event_id__in=event_ids)
    to_judge = meetings.exclude(pk__in=queued, outcome="")
    return outcomes.refresh(to_judge.values_list("pk", flat=True))
