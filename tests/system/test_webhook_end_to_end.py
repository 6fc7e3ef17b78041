"""Sandbox → HTTP → receiver → task → status change, with the portal served for real."""

from __future__ import annotations

import pytest
from django.conf import settings

from calendars.models import Integration, StatusChange, WebhookDelivery
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def webhooks_to_portal(sandbox, live_server):
    sandbox.control(
        "POST",
        "config",
        {
            "webhook_url": f"{live_server.url}/webhooks/meetingbaas/",
            "webhook_secret": settings.MEETINGBAAS_WEBHOOK_SECRET[0],
        },
    )
    return sandbox


def test_statuses_follow_the_sandbox_without_polling(webhooks_to_portal, make_integration):
    sandbox = webhooks_to_portal
    integration = make_integration()

    # the first sync finishes in the sandbox and its webhook makes the integration active
    assert wait_until(lambda: Integration.objects.get(pk=integration.pk).status == "active")
    sandbox.force(
        integration.remote_id, status="error", status_message="Calendar API quota exceeded"
    )
    assert wait_until(
        lambda: (
            Integration.objects.get(pk=integration.pk).error_message
            == "Calendar API quota exceeded"
        )
    )

    causes = set(
        StatusChange.objects.filter(integration=integration).values_list("cause", flat=True)
    )
    assert causes == {"created", "webhook"}
    events = set(WebhookDelivery.objects.values_list("event", flat=True))
    assert {
        "calendar.connection_created",
        "calendar.events_synced",
        "calendar.connection_updated",
    } <= events
    # connection_created may beat the create's commit; it is applied once the row exists
    assert not WebhookDelivery.objects.filter(outcome="unknown_connection").exists()


def test_badly_signed_and_stale_webhooks_are_refused_over_http(
    webhooks_to_portal, make_integration
):
    sandbox = webhooks_to_portal
    integration = make_integration()
    wait_until(lambda: WebhookDelivery.objects.exists())
    before = WebhookDelivery.objects.count()

    for variant in ("bad_signature", "stale"):
        answer = sandbox.control(
            "POST",
            "webhooks",
            {
                "connection_id": str(integration.remote_id),
                "event": "calendar.connection_updated",
                "variant": variant,
            },
        )
        assert answer["statuses"] == [401], variant

    assert WebhookDelivery.objects.count() == before


def test_a_duplicated_delivery_is_stored_once(webhooks_to_portal, make_integration):
    sandbox = webhooks_to_portal
    integration = make_integration()

    answer = sandbox.control(
        "POST",
        "webhooks",
        {
            "connection_id": str(integration.remote_id),
            "event": "calendar.event_created",
            "variant": "duplicate",
        },
    )

    assert answer["statuses"] == [200, 200]
    delivery = WebhookDelivery.objects.get(event="calendar.event_created")
    assert delivery.repeats == 1


def test_an_out_of_order_update_does_not_win(webhooks_to_portal, make_integration):
    sandbox = webhooks_to_portal
    integration = make_integration()
    assert wait_until(lambda: Integration.objects.get(pk=integration.pk).status == "active")
    sandbox.force(integration.remote_id, status="error", status_message="Quota exceeded")
    assert wait_until(lambda: Integration.objects.get(pk=integration.pk).status == "error")

    sandbox.control(
        "POST",
        "webhooks",
        {
            "connection_id": str(integration.remote_id),
            "event": "calendar.connection_updated",
            "overrides": {"status": "active"},
            "shift": -60,
        },
    )

    assert Integration.objects.get(pk=integration.pk).status == "error"
    assert WebhookDelivery.objects.order_by("-pk").first().outcome == "stale"
