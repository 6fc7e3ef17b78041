"""What a stored webhook delivery does to the integration it names. Run once per delivery.

Each API version's deliveries act only through that version's events and only on that
version's integrations: a v1 delivery, authenticated by the API key alone, can never touch a
v2 integration. A delivery that cannot be applied ends as failed, with the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from uuid import UUID

from django.db import OperationalError, connection, transaction
from django.utils import timezone
from django_q.conf import Conf

from calendars import queue
from calendars.actions.refresh import disconnect_locked
from calendars.lib.database import DATABASE_ERRORS
from calendars.lib.remote_values import fit
from calendars.meetingbaas.bots import BOT_EVENTS, news_in
from calendars.meetingbaas.errors import BadResponse
from calendars.meetingbaas.status import v2_portal_status
from calendars.meetingbaas.types import ApiVersion
from calendars.meetings import bot_news
from calendars.meetings import sync as meetings
from calendars.meetings.news import events_in
from calendars.models import Integration, Meeting, WebhookDelivery
from calendars.status import Cause, PortalStatus, ended_by_sync, is_older

logger = logging.getLogger(__name__)
Outcome = WebhookDelivery.Outcome
# A delivery still pending this long after it arrived lost its task (a broker outage, a
# killed worker): the sweeper queues it again.
LOST_AFTER = timedelta(minutes=2)
SWEEP_BATCH = 1000


def process(delivery_pk: int) -> str:
    """Apply one delivery's effects unless that was done already; returns its outcome."""
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery_pk)
        if delivery.outcome != Outcome.PENDING:
            return delivery.outcome
        if _is_bot_news(delivery):
            outcome, error, delivery.integration_id = _bot_news(delivery)
        else:
            integration = None
            if delivery.remote_id is not None:
                integration = (
                    Integration.objects.select_for_update()
                    .filter(remote_id=delivery.remote_id)
                    .first()
                )
            outcome, error = _apply(delivery, integration)
            delivery.integration = integration
        delivery.outcome = outcome
        delivery.error = fit(WebhookDelivery, "error", error)
        delivery.processed_at = timezone.now()
        delivery.save(update_fields=["integration", "outcome", "error", "processed_at"])
    logger.info("webhook %s %s -> %s", delivery.pk, delivery.event, outcome)
    return outcome


def _apply(delivery: WebhookDelivery, integration: Integration | None) -> tuple[str, str]:
    """The delivery's outcome and, when it failed, why."""
    handler = HANDLERS[delivery.api_version].get(delivery.event)
    if handler is None:
        return Outcome.UNKNOWN_EVENT, ""
    if integration is None:
        return Outcome.UNKNOWN_CONNECTION, ""
    if integration.api_version != delivery.api_version:
        return Outcome.FAILED, (
            f"An API {delivery.api_version} webhook cannot change an API "
            f"{integration.api_version} integration."
        )
    return _guarded(delivery, lambda: handler(integration, delivery))


def _guarded(delivery: WebhookDelivery, handle: Callable[[], str]) -> tuple[str, str]:
    """`handle()`'s outcome, or FAILED with why when it raised for the delivery's own sake."""
    try:
        with transaction.atomic():  # a savepoint: a handler that fails leaves nothing behind
            return handle(), ""
    except DATABASE_ERRORS:
        raise  # the database itself failed: left pending, run again (calendars.lib.database)
    except Exception as exc:
        if not connection.is_usable():
            # Whatever it says, an error with the connection gone is the database's: the
            # delivery must not end failed for it.
            raise OperationalError("the database connection was lost") from exc
        # Anything else would fail the same way every time the sweeper re-queued it.
        logger.exception("webhook %s could not be applied", delivery.pk)
        return Outcome.FAILED, f"Could not be applied: {type(exc).__name__}: {exc}"


def _is_bot_news(delivery: WebhookDelivery) -> bool:
    # v1 has no bot webhooks: one claiming to be is an unknown event there.
    return delivery.api_version == ApiVersion.V2 and delivery.event in BOT_EVENTS


def _bot_news(delivery: WebhookDelivery) -> tuple[str, str, int | None]:
    """Apply a v2 bot webhook to its meeting; a bot no meeting is known for is recorded.
    Returns the outcome, why it failed, and the meeting's integration id."""
    try:
        news = news_in(delivery.event, delivery.payload, sent_at=delivery.sent_at)
    except BadResponse as exc:
        why = f"Could not be read: {exc.message}"
        return Outcome.FAILED, fit(WebhookDelivery, "error", why), None
    meeting: Meeting | None = None

    def handle() -> str:
        nonlocal meeting
        result, meeting = bot_news.apply(news, api_version=delivery.api_version)
        return BOT_OUTCOMES[result]

    outcome, error = _guarded(delivery, handle)
    return outcome, error, meeting.integration_id if meeting is not None else None


BOT_OUTCOMES = {
    bot_news.APPLIED: Outcome.APPLIED,
    bot_news.STALE: Outcome.STALE,
    bot_news.UNKNOWN: Outcome.RECORDED,
}


def queue_processing(delivery_pk: int) -> None:
    """Queue a stored delivery's processing once its row is committed."""
    # The delivery keeps its own outcome: a successful task kept as well would only cost the
    # cluster's monitor, which reads every kept success to prune them as it stores one.
    task = {"group": "webhooks", "task_name": f"webhook-{delivery_pk}", "keeps_success": False}
    if _broker_is_this_transaction():
        # The task's row commits with the delivery's: one commit instead of two, and a
        # commit's flush to disk is most of what storing a delivery costs. No worker can
        # take the task before the delivery is there to read, as on commit.
        queue.enqueue("process_webhook", delivery_pk, **task)
    else:
        queue.enqueue_on_commit("process_webhook", delivery_pk, **task)


def _broker_is_this_transaction() -> bool:
    """Whether the queue is a table of the database the delivery is being written to, in a
    transaction (not Redis; not tasks run inline, as tests do, which must wait for the
    commit)."""
    database = WebhookDelivery.objects.db
    return (
        database == Conf.ORM
        and not Conf.SYNC
        and transaction.get_connection(database).in_atomic_block
    )


def sweep_pending() -> int:
    """Queue again the deliveries whose task was lost; returns how many."""
    stale = timezone.now() - LOST_AFTER
    pending = WebhookDelivery.objects.filter(outcome=Outcome.PENDING, received_at__lt=stale)
    ids = list(pending.values_list("pk", flat=True)[:SWEEP_BATCH])
    for delivery_pk in ids:
        queue_processing(delivery_pk)
    return len(ids)


def retry_unknown_connection(remote_id: UUID) -> int:
    """Apply the deliveries that came for `remote_id` before its integration was stored.

    Meeting BaaS may announce a connection before the create that made it has committed.
    """
    waiting = WebhookDelivery.objects.filter(
        remote_id=remote_id, outcome=Outcome.UNKNOWN_CONNECTION
    )
    ids = list(waiting.order_by("event_time", "received_at", "pk").values_list("pk", flat=True))
    WebhookDelivery.objects.filter(pk__in=ids).update(outcome=Outcome.PENDING, processed_at=None)
    for delivery_pk in ids:
        process(delivery_pk)
    return len(ids)


# What a connection webhook may carry beside its status, named as the GET of one connection
# names it, and the field that stores it.
CARRIED = {
    "sync_status": "sync_status",
    "sync_error": "sync_error",
    "status_message": "remote_status_message",
}


def _connection_changed(integration: Integration, delivery: WebhookDelivery) -> str:
    if not integration.is_reachable:
        return Outcome.RECORDED
    if is_older(delivery.event_time, integration.remote_updated_at):
        return Outcome.STALE
    data = delivery.payload["data"]
    remote_status = str(data.get("status") or "")
    # The spec's webhook carries the status alone; any sync facts or message it carries as
    # well are newer than those we hold, which complete the picture otherwise.
    carried = {name: data[name] for name in CARRIED if isinstance(data.get(name), str)}
    if "sync_status" in carried:
        # A sync state comes with its own error or none: an older error no longer holds.
        carried.setdefault("sync_error", "")
    for name, value in carried.items():
        setattr(integration, CARRIED[name], fit(Integration, CARRIED[name], value))
    status_message = carried.get("status_message") or None
    new_status, message = v2_portal_status(
        remote_status,
        synced_at=integration.synced_at,
        sync_status=integration.sync_status or None,
        status_message=status_message,
        sync_error=integration.sync_error or None,
    )
    integration.remote_status = fit(Integration, "remote_status", remote_status)
    integration.remote_updated_at = delivery.event_time or integration.remote_updated_at
    carries_why = bool(status_message or carried.get("sync_error"))
    if new_status != integration.status or carries_why:
        integration.error_message = (
            fit(Integration, "error_message", message) if new_status != PortalStatus.ACTIVE else ""
        )
    integration.move_to(new_status, integration.error_message, cause=Cause.WEBHOOK, user=None)
    integration.save()
    if new_status == PortalStatus.ERROR and not carries_why:
        # The webhook has no message: fetch the details support staff need.
        queue.enqueue_on_commit(
            "refresh_integration",
            integration.pk,
            group="refresh",
            task_name=f"refresh-{integration.pk}",
        )
    return Outcome.APPLIED


def _connection_deleted(integration: Integration, delivery: WebhookDelivery) -> str:
    if not integration.is_reachable:
        return Outcome.RECORDED
    if is_older(delivery.event_time, integration.remote_updated_at):
        return Outcome.STALE
    deleted_at = delivery.payload["data"].get("deleted_at") or "an unknown time"
    integration.remote_updated_at = delivery.event_time or integration.remote_updated_at
    disconnect_locked(integration, f"Deleted on Meeting BaaS at {deleted_at}.", cause=Cause.WEBHOOK)
    integration.save()
    return Outcome.APPLIED


def _events_synced(integration: Integration, delivery: WebhookDelivery) -> str:
    synced_at = delivery.event_time or timezone.now()
    is_newer = integration.synced_at is None or synced_at > integration.synced_at
    if is_newer:
        integration.synced_at = synced_at
    if ended_by_sync(integration.api_version, integration.status):
        integration.error_message = ""
        integration.move_to(
            PortalStatus.ACTIVE, "Sync reported by webhook.", cause=Cause.WEBHOOK, user=None
        )
        integration.save()
    elif is_newer:
        # Only the sync time moves, which history leaves out: one UPDATE, no history row.
        integration.updated_at = timezone.now()
        Integration.objects.filter(pk=integration.pk).update(
            synced_at=synced_at, updated_at=integration.updated_at
        )
    _meetings_changed(integration, delivery)
    return Outcome.APPLIED


def _meetings_changed(integration: Integration, delivery: WebhookDelivery) -> str:
    """The meetings a v2 event webhook describes, or those a v1 sync names (fetched: v1 sends
    their ids alone), into the mirror."""
    if not integration.is_live:
        return Outcome.RECORDED
    data = delivery.payload["data"]
    if integration.api_version == ApiVersion.V1:
        ids = [UUID(str(event_id)) for event_id in data.get("affected_event_uuids") or []]
        outcome = meetings.fetch_news(integration, ids)
    else:
        # Sent by Svix when it happened: the webhook's time orders it against other news.
        as_of = delivery.event_time or delivery.received_at
        outcome = meetings.apply_news(
            integration,
            events_in(delivery.event, data),
            as_of=as_of,
            updated=delivery.event == "calendar.event_updated",
        )
    return MEETING_OUTCOMES[outcome]


MEETING_OUTCOMES = {
    "applied": Outcome.APPLIED,
    "stale": Outcome.STALE,
    "recorded": Outcome.RECORDED,
}


Handler = Callable[[Integration, WebhookDelivery], str]
# The events each version sends (shared/meetingbaas/NOTES.md); any other is an unknown event.
HANDLERS: dict[str, dict[str, Handler]] = {
    ApiVersion.V1: {"calendar.sync_events": _events_synced},
    ApiVersion.V2: {
        "calendar.connection_created": _connection_changed,
        "calendar.connection_updated": _connection_changed,
        "calendar.connection_deleted": _connection_deleted,
        "calendar.events_synced": _events_synced,
        "calendar.event_created": _meetings_changed,
        "calendar.event_updated": _meetings_changed,
        "calendar.event_cancelled": _meetings_changed,
    },
}
# Every event a delivery is applied for, by version (the admin's filter lists them).
EVENTS: dict[str, tuple[str, ...]] = {
    ApiVersion.V1: tuple(HANDLERS[ApiVersion.V1]),
    ApiVersion.V2: (*HANDLERS[ApiVersion.V2], *BOT_EVENTS),
}
