"""A processed delivery keeps its outcome on itself, not among the successful tasks (whose
pruning the cluster pays for at each one kept); other tasks' successes are kept as before."""

from __future__ import annotations

from django.test import TestCase
from django_q.models import Success

from calendars import queue
from calendars.models import WebhookDelivery
from tests.support.webhook_signing import post_v2


def test_a_processed_delivery_is_not_kept_among_the_successful_tasks(client, make_integration):
    integration = make_integration()
    body = {
        "event": "calendar.connection_updated",
        "data": {"calendar_id": str(integration.remote_id), "status": "active"},
    }

    assert post_v2(client, body).status_code == 200

    assert WebhookDelivery.objects.get().outcome == WebhookDelivery.Outcome.APPLIED
    assert not Success.objects.filter(func=queue.TASKS["process_webhook"]).exists()


def test_other_tasks_are_still_kept_among_the_successful_tasks(db):
    with TestCase.captureOnCommitCallbacks(execute=True):
        queue.enqueue("heartbeat", group="heartbeat")

    assert Success.objects.filter(func=queue.TASKS["heartbeat"]).count() == 1
