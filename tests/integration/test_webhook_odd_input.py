"""Authenticated but odd deliveries: a clear 400, or stored and applied within the columns.

Run on PostgreSQL too: only there does a value longer than its column fail (DataError).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.db import DataError
from standardwebhooks.webhooks import Webhook

from calendars import tasks
from calendars.models import Integration, WebhookDelivery
from tests.integration.test_webhook_receiver import updated
from tests.support.webhook_signing import post, post_v2, svix_headers

Outcome = WebhookDelivery.Outcome


@pytest.fixture
def integration(make_integration) -> Integration:
    return make_integration()


def test_a_signed_timestamp_with_a_fraction_is_a_bad_request(client, integration):
    body = json.dumps(updated(integration, "revoked", datetime.now(UTC)))
    whole = int(datetime.now(UTC).timestamp())
    signature = Webhook(settings.MEETINGBAAS_WEBHOOK_SECRET[0]).sign(
        "msg_fraction", datetime.fromtimestamp(whole, UTC), body
    )
    headers = {
        "HTTP_SVIX_ID": "msg_fraction",
        "HTTP_SVIX_TIMESTAMP": f"{whole}.5",
        "HTTP_SVIX_SIGNATURE": signature,
    }

    response = post(client, body, **headers)

    assert response.status_code == 400
    assert "whole number of seconds" in response.json()["error"]
    assert not WebhookDelivery.objects.exists()


@pytest.mark.parametrize("depth", [100, 5_000, 200_000])
def test_deeply_nested_json_is_a_bad_request(client, integration, depth):
    nested = "[" * depth + "]" * depth
    body = (
        f'{{"event": "calendar.event_created", '
        f'"data": {{"calendar_id": "{integration.remote_id}", "x": {nested}}}}}'
    )

    response = post(client, body, **svix_headers(body))

    assert response.status_code == 400
    assert "nested deeper" in response.json()["error"]
    assert not WebhookDelivery.objects.exists()


def test_ordinary_nesting_is_accepted(client, integration):
    payload = {
        "event": "calendar.event_created",
        "data": {"calendar_id": str(integration.remote_id), "x": [[[[{"y": [1]}]]]]},
    }

    assert post_v2(client, payload).status_code == 200


def test_a_status_longer_than_its_column_is_stored_cut_and_applied(client, integration):
    payload = updated(integration, "x" * 70, datetime.now(UTC))

    response = post_v2(client, payload)

    assert response.status_code == 200
    assert WebhookDelivery.objects.get().outcome == Outcome.APPLIED
    integration.refresh_from_db()
    assert integration.status == "error"  # an unknown status must not pass for healthy
    assert integration.remote_status == "x" * 63 + "…"
    assert len(integration.error_message) <= 2000


def test_a_huge_deletion_time_makes_a_message_cut_to_size(client, integration):
    payload = {
        "event": "calendar.connection_deleted",
        "data": {"calendar_id": str(integration.remote_id), "deleted_at": "y" * 100_000},
    }

    post_v2(client, payload)

    integration.refresh_from_db()
    assert integration.status == "disconnected"
    assert len(integration.error_message) == 2000
    assert len(integration.status_changes.first().message) == 2000


def test_an_event_time_utc_cannot_hold_is_left_out_not_a_crash(client, integration):
    payload = updated(integration, "revoked", datetime.now(UTC))
    payload["data"]["updated_at"] = "0001-01-01T00:00:00+01:00"

    response = post_v2(client, payload)

    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert abs(delivery.event_time - datetime.now(UTC)) < timedelta(minutes=1)  # sent at
    assert delivery.outcome == Outcome.APPLIED


def test_a_delivery_that_cannot_be_applied_fails_with_its_reason_and_is_not_requeued(
    client, integration, monkeypatch
):
    def refuse(*args: object, **kwargs: object) -> None:
        raise DataError("value too long for type character varying(64)")

    monkeypatch.setattr(Integration, "move_to", refuse)

    response = post_v2(client, updated(integration, "revoked", datetime.now(UTC)))

    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == Outcome.FAILED
    assert "DataError: value too long" in delivery.error
    integration.refresh_from_db()
    assert (integration.status, integration.remote_status) == ("syncing", "active")
    # Nothing left pending for the sweeper to queue again and again.
    WebhookDelivery.objects.update(received_at=datetime.now(UTC) - timedelta(hours=1))
    assert tasks.sweep_pending_webhooks() == 0
