"""Webhooks for the copies of one meeting applied at the same moment by several workers still
schedule one bot (the claim on the shared meeting: a lock and a unique constraint)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections
from django.test import Client

from calendars.meetings import sharing
from calendars.models import BotPolicy, SharedMeeting
from tests.support.meetings import deliver, webhook
from tests.support.shared_meetings import bots_at_sandbox, colleagues, share_meeting

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]
EMAILS = [f"user{n}@example.com" for n in range(5)]


@pytest.mark.parametrize("count", [2, 3, 5])
def test_concurrent_webhooks_for_the_copies_of_one_meeting_schedule_one_bot(
    sandbox, customer, google_app, make_integration, monkeypatch, count
):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer at a time: the race is PostgreSQL's")
    BotPolicy.objects.create(customer=customer, mode=BotPolicy.Mode.RECORD_ALL)
    integrations = colleagues(customer, google_app, make_integration, sandbox, "v2", EMAILS[:count])
    event_ids = share_meeting(sandbox, integrations, noisy=True)
    bodies = [
        webhook(sandbox, integration, "calendar.event_created", [event_id])
        for integration, event_id in zip(integrations, event_ids, strict=True)
    ]
    made = sharing._create

    def slowly_made(*args: object) -> SharedMeeting:
        # The first worker keeps its claim uncommitted a while: the others look meanwhile.
        shared = made(*args)
        threading.Event().wait(0.3)
        return shared

    monkeypatch.setattr(sharing, "_create", slowly_made)
    start = threading.Barrier(count)
    errors: list[Exception] = []

    def worker(integration, body) -> None:
        try:
            start.wait(5)
            assert deliver(Client(), integration, body).status_code == 200
        except Exception as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=worker, args=pair)
        for pair in zip(integrations, bodies, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []
    assert len(bots_at_sandbox(sandbox, event_ids)) == 1
    assert SharedMeeting.objects.filter(key="zoom:85712345678").count() == 1
