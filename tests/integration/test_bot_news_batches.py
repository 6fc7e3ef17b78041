"""Bot news applied in batches: deliveries waiting together are applied as they would be one by
one (out of order, repeated, idempotent), and the receiver queues one task for them."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone
from django_q.conf import Conf

from calendars import queue
from calendars.actions import webhook_deliveries
from calendars.models import BotPolicy, Meeting, WebhookDelivery
from tests.integration.test_bot_news import meeting_with_bot, play, send
from tests.support.webhook_signing import URL, svix_headers

Outcome = WebhookDelivery.Outcome


@pytest.fixture
def policy(customer):
    return BotPolicy.objects.create(customer=customer, bot_name="Acme notes")


def test_bot_news_waiting_together_are_applied_in_one_batch_as_one_by_one(
    client, sandbox, make_integration, policy
):
    meeting = meeting_with_bot(client, sandbox, make_integration, "v2")
    joining, recording, completed = play(sandbox, meeting, outcome="completed")
    afterwards = json.loads(json.dumps(recording))
    afterwards["data"]["status"]["created_at"] = timezone.now().isoformat()
    # Posted without running what the commits queue: they wait for the task together.
    for body, msg_id in (
        (recording, None),
        (joining, None),  # older than the recording held
        (completed, "msg_completed"),
        (completed, "msg_completed"),  # Svix retries the same message: stored once
        (afterwards, None),  # a status never undoes the final word
    ):
        text = json.dumps(body)
        client.post(URL, text, content_type="application/json", **svix_headers(text, msg_id=msg_id))
    waiting = WebhookDelivery.objects.filter(event__startswith="bot.").order_by("pk")
    assert [d.outcome for d in waiting] == [Outcome.PENDING] * 4

    assert webhook_deliveries.apply_bot_news() == 4
    assert webhook_deliveries.apply_bot_news() == 0

    done = list(waiting.all())
    assert [d.outcome for d in done] == [
        Outcome.APPLIED,
        Outcome.STALE,
        Outcome.APPLIED,
        Outcome.STALE,
    ]
    assert len({d.processed_at for d in done}) == 1  # one batch
    assert {d.integration_id for d in done} == {meeting.integration_id}
    meeting.refresh_from_db()
    assert (meeting.bot_status, meeting.outcome) == ("completed", Meeting.Outcome.RECORDED)
    assert str(meeting.bot_id) == completed["data"]["bot_id"]
    assert meeting.bot_joined_at is not None and meeting.bot_duration_seconds == 1


def test_bot_news_queue_one_task_while_older_ones_wait(
    client, sandbox, make_integration, policy, monkeypatch
):
    meeting = meeting_with_bot(client, sandbox, make_integration, "v2")
    story = play(sandbox, meeting, outcome="completed")
    queued = []
    monkeypatch.setattr(Conf, "SYNC", False)  # a real queue: tasks wait in it
    monkeypatch.setattr(queue, "enqueue", lambda task, *args, **options: queued.append(task))

    for body in story:
        send(client, body)

    # The first one's task sees the others: they queue nothing more.
    assert queued == ["apply_bot_news"]
    assert webhook_deliveries.apply_bot_news() == 3
    send(client, story[-1])  # a new one once none waits: queued again
    assert queued == ["apply_bot_news"] * 2
