"""One `calendar.events_synced` delivery costs the same SQL statements with 5 events as with
50, whether they are new to the mirror or held and changed."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from calendars.actions.webhook_deliveries import process
from calendars.models import BotPolicy, Meeting, WebhookDelivery
from sandbox.webhooks import payload
from tests.support.meetings import active_integration, add_event

MOVED_BY = timedelta(minutes=10)


def statements(integration, body: dict, sent_at) -> int:
    """The SQL statements processing `body`, delivered at `sent_at`, costs."""
    delivery = WebhookDelivery.objects.create(
        api_version="v2",
        event=body["event"],
        delivery_id=f"msg_{uuid.uuid4().hex}",
        payload=body,
        remote_id=integration.remote_id,
        event_time=sent_at,
    )
    with CaptureQueriesContext(connection) as queries:
        assert process(delivery.pk) == WebhookDelivery.Outcome.APPLIED
    return len(queries)


def test_a_delivery_costs_the_same_statements_however_many_events_it_carries(
    sandbox, make_integration, customer
):
    integration = active_integration(make_integration, sandbox, "v2")
    # The policy looks at every meeting the delivery touches: its queries are counted too.
    BotPolicy.objects.create(customer=customer, mode=BotPolicy.Mode.RECORD_ALL)
    remote = sandbox.connection(integration.remote_id)
    sent_at = timezone.now() - timedelta(minutes=5)
    counts = {}
    for size in (5, 50):
        events = [
            sandbox.state.event(remote, add_event(sandbox, integration, in_hours=2 + n))
            for n in range(size)
        ]
        sent_at += timedelta(minutes=1)
        new = statements(
            integration, payload(remote, "calendar.events_synced", events=events), sent_at
        )
        sent_at += timedelta(minutes=1)
        moved = payload(
            remote, "calendar.events_synced", events=events, shift=MOVED_BY.total_seconds()
        )
        counts[size] = (new, statements(integration, moved, sent_at))

    assert counts[5] == counts[50]
    # The statements did the work: every event stored, then moved (to the millisecond the
    # webhooks carry).
    starts = dict(
        Meeting.objects.filter(integration=integration).values_list("remote_event_id", "starts_at")
    )
    assert len(starts) == 55
    for event_id, starts_at in starts.items():
        moved_to = sandbox.state.event(remote, str(event_id)).start + MOVED_BY
        assert abs(starts_at - moved_to) < timedelta(milliseconds=1)
