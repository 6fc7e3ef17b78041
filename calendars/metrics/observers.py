"""What processes count for /metrics: each Meeting BaaS request, each webhook delivery taken and
applied, each bot attempt. Connected in CalendarsConfig.ready(); counted once the work's
transaction commits, so work rolled back is not counted."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_save

from calendars.meetingbaas import observed
from calendars.metrics import names, totals
from calendars.models import BotAttempt, ConsentLink, WebhookDelivery


def connect() -> None:
    observed.request_ended.connect(meetingbaas_request, dispatch_uid="metrics.meetingbaas")
    post_save.connect(webhook_delivery, sender=WebhookDelivery, dispatch_uid="metrics.webhooks")
    post_save.connect(bot_attempt, sender=BotAttempt, dispatch_uid="metrics.bots")
    post_save.connect(consent_link, sender=ConsentLink, dispatch_uid="metrics.consent_links")


def meetingbaas_request(sender: object, operation: str, outcome: str, seconds: float, **_) -> None:
    # Not held for a commit: the request was sent whatever becomes of the transaction.
    totals.add(names.MEETINGBAAS_CALLS, {"operation": operation, "outcome": outcome})
    totals.observe(
        names.MEETINGBAAS_CALL_SECONDS, {"operation": operation}, seconds, names.CALL_BUCKETS
    )


def webhook_delivery(
    sender: type, instance: WebhookDelivery, created: bool, update_fields: object, **_
) -> None:
    if created:
        labels = {"api_version": instance.api_version}
        transaction.on_commit(lambda: totals.add(names.WEBHOOKS_RECEIVED, labels))
    elif update_fields and "outcome" in update_fields and instance.processed_at is not None:
        version, outcome, lag = instance.api_version, instance.outcome, _lag(instance)
        transaction.on_commit(lambda: _processed(version, outcome, lag))


def _lag(delivery: WebhookDelivery) -> float:
    """From Meeting BaaS sending it (v1 deliveries say not when: from their receipt) to its
    being processed."""
    since = delivery.sent_at or delivery.received_at
    return max(0.0, (delivery.processed_at - since).total_seconds())


def _processed(api_version: str, outcome: str, lag: float) -> None:
    totals.add(names.WEBHOOKS_PROCESSED, {"api_version": api_version, "outcome": outcome})
    totals.observe(names.WEBHOOK_LAG_SECONDS, {"api_version": api_version}, lag, names.LAG_BUCKETS)


def bot_attempt(sender: type, instance: BotAttempt, created: bool, **_) -> None:
    if created:
        labels = {
            "action": instance.action,
            "outcome": "succeeded" if instance.succeeded else "failed",
        }
        transaction.on_commit(lambda: totals.add(names.BOT_ATTEMPTS, labels))


def consent_link(
    sender: type, instance: ConsentLink, created: bool, update_fields: object, **_
) -> None:
    # Written now, in the link's own transaction (a link is made or used by a person, rarely):
    # /metrics derives the expired ones from these, so they must be exact.
    if created:
        totals.add_now(names.CONSENT_LINKS_MADE, {})
    for field, name in (
        ("used_at", names.CONSENT_LINKS_USED),
        ("revoked_at", names.CONSENT_LINKS_REVOKED),
    ):
        if getattr(instance, field) is not None and (created or field in (update_fields or ())):
            totals.add_now(name, {})
