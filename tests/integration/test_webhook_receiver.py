"""The webhook receiver: who it believes, what it stores, and what each event does."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from calendars.actions.refresh import refresh_integration
from calendars.models import Integration, StatusChange, WebhookDelivery
from tests.support.webhook_signing import URL, post, post_v2, svix_headers

Outcome = WebhookDelivery.Outcome


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def updated(integration: Integration, status: str, at: datetime) -> dict:
    return {
        "event": "calendar.connection_updated",
        "data": {
            "calendar_id": str(integration.remote_id),
            "calendar_platform": "google",
            "account_email": "alice@example.com",
            "status": status,
            "created_at": iso(at - timedelta(hours=1)),
            "updated_at": iso(at),
        },
    }


@pytest.fixture
def integration(make_integration) -> Integration:
    return make_integration()


def test_a_signed_update_changes_the_status_with_a_webhook_cause(client, integration, sandbox):
    forced = sandbox.force(integration.remote_id, status="error", status_message="Quota exceeded")

    response = post_v2(
        client, updated(integration, "error", datetime.fromisoformat(forced["updated_at"]))
    )

    assert response.status_code == 200
    integration.refresh_from_db()
    assert integration.status == "error"
    assert integration.remote_status == "error"
    change = integration.status_changes.first()
    assert (change.to_status, change.cause) == ("error", "webhook")
    # the webhook has no message, so a refresh fetched the API's own words
    assert integration.error_message == "Quota exceeded"
    assert WebhookDelivery.objects.get().outcome == Outcome.APPLIED


def test_a_failed_sync_the_update_carries_puts_the_integration_in_error(
    client, integration, sandbox
):
    sandbox.force(integration.remote_id, synced=True)
    integration = refresh_integration(integration.pk)
    assert integration.status == "active"
    payload = updated(integration, "active", datetime.now(UTC))
    payload["data"] |= {"sync_status": "failed", "sync_error": "410 Gone: the sync token expired"}

    post_v2(client, payload)

    integration.refresh_from_db()
    assert (integration.status, integration.sync_status) == ("error", "failed")
    assert integration.error_message == "410 Gone: the sync token expired"
    assert integration.sync_error == "410 Gone: the sync token expired"
    change = integration.status_changes.first()
    assert (change.from_status, change.to_status, change.cause) == ("active", "error", "webhook")
    assert WebhookDelivery.objects.get().outcome == Outcome.APPLIED


def test_a_successful_sync_the_update_carries_ends_a_failed_one(client, integration, sandbox):
    sandbox.force(integration.remote_id, synced=True, sync_status="failed", sync_error="410 Gone")
    integration = refresh_integration(integration.pk)
    assert integration.status == "error"
    payload = updated(integration, "active", datetime.now(UTC))
    payload["data"]["sync_status"] = "success"

    post_v2(client, payload)

    integration.refresh_from_db()
    assert (integration.status, integration.sync_status) == ("active", "success")
    assert (integration.sync_error, integration.error_message) == ("", "")


@pytest.mark.parametrize(
    ("signing", "case"),
    [
        ({"secret": "whsec_" + "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA=="}, "wrong secret"),
        ({"age": timedelta(minutes=6)}, "stale timestamp"),
        ({"age": timedelta(minutes=-6)}, "timestamp in the future"),
    ],
)
def test_a_badly_signed_delivery_is_refused_and_changes_nothing(client, integration, signing, case):
    response = post_v2(client, updated(integration, "revoked", datetime.now(UTC)), **signing)

    assert response.status_code == 401, case
    assert not WebhookDelivery.objects.exists()
    integration.refresh_from_db()
    assert integration.status == "syncing"


def test_a_tampered_body_is_refused(client, integration):
    body = json.dumps(updated(integration, "active", datetime.now(UTC)))
    headers = svix_headers(body)

    response = post(client, body.replace("active", "revoked"), **headers)

    assert response.status_code == 401
    assert not WebhookDelivery.objects.exists()


@pytest.mark.parametrize("keep", [[], ["HTTP_SVIX_ID"], ["HTTP_SVIX_ID", "HTTP_SVIX_TIMESTAMP"]])
def test_missing_headers_are_refused(client, integration, keep):
    body = json.dumps(updated(integration, "revoked", datetime.now(UTC)))
    headers = {k: v for k, v in svix_headers(body).items() if k in keep}

    assert post(client, body, **headers).status_code == 401
    assert not WebhookDelivery.objects.exists()


def test_junk_signature_headers_are_refused_not_a_crash(client):
    body = "{}"
    headers = {
        "HTTP_SVIX_ID": "x",
        "HTTP_SVIX_TIMESTAMP": "not-a-number",
        "HTTP_SVIX_SIGNATURE": "v1",
    }

    assert post(client, body, **headers).status_code == 401
    headers["HTTP_SVIX_TIMESTAMP"] = svix_headers(body)["HTTP_SVIX_TIMESTAMP"]
    assert post(client, body, **headers).status_code == 401


def test_the_secret_being_rotated_out_is_still_accepted(client, integration, settings):
    payload = updated(integration, "active", datetime.now(UTC))

    response = post_v2(client, payload, secret=settings.MEETINGBAAS_WEBHOOK_SECRET[1])

    assert response.status_code == 200


def test_a_signed_body_that_is_not_json_is_a_bad_request(client):
    body = "{not json"
    assert post(client, body, **svix_headers(body)).status_code == 400


def test_an_oversized_body_is_refused(client, settings, db):
    settings.WEBHOOK_MAX_BODY_BYTES = 1000
    body = json.dumps({"event": "calendar.event_created", "data": {"x": "y" * 2000}})

    response = post(client, body, **svix_headers(body))

    assert response.status_code == 413
    assert not WebhookDelivery.objects.exists()


def test_only_post_is_allowed(client):
    assert client.get("/webhooks/meetingbaas/").status_code == 405


def test_a_replayed_delivery_is_acknowledged_but_applied_once(client, integration):
    payload = updated(integration, "revoked", datetime.now(UTC))

    first = post_v2(client, payload, msg_id="msg_replayed")
    second = post_v2(client, payload, msg_id="msg_replayed")

    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()["duplicate"] is True
    delivery = WebhookDelivery.objects.get()
    assert delivery.repeats == 1
    assert StatusChange.objects.filter(cause="webhook").count() == 1


def test_a_bot_webhook_is_stored_by_one_statement_and_its_repeat_rolls_nothing_back(client, db):
    body = json.dumps(
        {"event": "bot.status_change", "data": {"bot_id": str(uuid.uuid4()), "status": {}}}
    )

    def statements(sent: CaptureQueriesContext) -> list[str]:
        # The receiver's own: its on-commit look for a waiting task never runs in a test's
        # transaction here.
        return [query["sql"].split()[0] for query in sent.captured_queries]

    def send() -> object:
        headers = svix_headers(body, msg_id="msg_bot_repeated")
        return client.post(URL, body, content_type="application/json", **headers)

    with CaptureQueriesContext(connection) as first:
        response = send()
    with CaptureQueriesContext(connection) as again:
        repeat = send()

    assert response.json() == {"received": True, "duplicate": False}
    assert statements(first) == ["INSERT"]
    assert repeat.json() == {"received": True, "duplicate": True}
    assert statements(again) == ["INSERT", "UPDATE"]  # no savepoint, no rollback
    assert WebhookDelivery.objects.get().repeats == 1


def test_an_older_update_arriving_late_is_ignored(client, integration, sandbox):
    sandbox.force(integration.remote_id, status="error", status_message="Quota exceeded")
    now = datetime.now(UTC)

    post_v2(client, updated(integration, "error", now))
    post_v2(client, updated(integration, "active", now - timedelta(seconds=60)))

    integration.refresh_from_db()
    assert integration.status == "error"
    assert list(WebhookDelivery.objects.order_by("id").values_list("outcome", flat=True)) == [
        Outcome.APPLIED,
        Outcome.STALE,
    ]


def test_an_unknown_connection_is_stored_for_admins(client, db):
    payload = {
        "event": "calendar.connection_created",
        "data": {"calendar_id": str(uuid.uuid4()), "status": "active"},
    }

    response = post_v2(client, payload)

    assert response.status_code == 200
    assert WebhookDelivery.objects.get().outcome == Outcome.UNKNOWN_CONNECTION


def test_an_unknown_event_is_stored_and_acknowledged(client, integration):
    payload = {
        "event": "calendar.something_new",
        "data": {"calendar_id": str(integration.remote_id)},
    }

    assert post_v2(client, payload).status_code == 200
    assert WebhookDelivery.objects.get().outcome == Outcome.UNKNOWN_EVENT


def test_a_deleted_connection_is_disconnected(client, integration):
    payload = {
        "event": "calendar.connection_deleted",
        "data": {
            "calendar_id": str(integration.remote_id),
            "calendar_platform": "google",
            "deleted_at": iso(datetime.now(UTC)),
        },
    }

    post_v2(client, payload)

    integration.refresh_from_db()
    assert integration.status == "disconnected"
    assert "Deleted on Meeting BaaS" in integration.error_message


def test_events_synced_turns_a_syncing_integration_active(client, integration):
    payload = {
        "event": "calendar.events_synced",
        "data": {"calendar_id": str(integration.remote_id), "events": []},
    }

    post_v2(client, payload)

    integration.refresh_from_db()
    assert integration.status == "active"
    assert integration.synced_at is not None


def test_event_messages_are_counted_on_the_integration_page(admin_client, integration):
    # An event of no meeting the portal keeps: stored and counted, nothing to apply.
    payload = {
        "event": "calendar.event_created",
        "data": {"calendar_id": str(integration.remote_id), "instances": []},
    }
    post_v2(admin_client, payload)

    page = admin_client.get(reverse("admin:calendars_integration_change", args=[integration.pk]))

    assert b"1 calendar event message in all" in page.content
    assert WebhookDelivery.objects.get().outcome == Outcome.RECORDED


def test_deliveries_are_browsable_and_filterable_by_integration(admin_client, integration):
    post_v2(
        admin_client,
        {"event": "calendar.event_created", "data": {"calendar_id": str(integration.remote_id)}},
    )
    post_v2(
        admin_client,
        {"event": "calendar.event_created", "data": {"calendar_id": str(uuid.uuid4())}},
    )
    changelist = reverse("admin:calendars_webhookdelivery_changelist")

    everything = admin_client.get(changelist)
    mine = admin_client.get(changelist, {"integration": integration.pk})
    unknown = admin_client.get(changelist, {"outcome__exact": "unknown_event"})

    assert everything.context["cl"].result_count == 2
    assert b"unknown connection" in everything.content
    assert mine.context["cl"].result_count == 1
    assert unknown.context["cl"].result_count == 0


class TestV1:
    @pytest.fixture
    def integration(self, make_integration, settings) -> Integration:
        settings.MEETINGBAAS_API_VERSION = "v1"
        settings.MEETINGBAAS_WEBHOOKS_V1 = True
        return make_integration()

    def payload(self, integration: Integration) -> dict:
        return {
            "event": "calendar.sync_events",
            "data": {
                "calendar_id": str(integration.remote_id),
                "last_updated_ts": iso(datetime.now(UTC)),
                "affected_event_uuids": [],
            },
        }

    def test_the_api_key_header_authenticates_and_a_sync_ends_syncing(
        self, client, integration, settings
    ):
        body = json.dumps(self.payload(integration))

        response = post(client, body, HTTP_X_MEETING_BAAS_API_KEY=settings.MEETINGBAAS_API_KEY)

        assert response.status_code == 200
        integration.refresh_from_db()
        assert integration.status == "active"

    def test_a_wrong_api_key_is_refused(self, client, integration):
        body = json.dumps(self.payload(integration))

        response = post(client, body, HTTP_X_MEETING_BAAS_API_KEY="nope")

        assert response.status_code == 401
        assert not WebhookDelivery.objects.exists()

    def test_the_same_payload_twice_is_one_delivery(self, client, integration, settings):
        body = json.dumps(self.payload(integration))
        for _ in range(2):
            post(client, body, HTTP_X_MEETING_BAAS_API_KEY=settings.MEETINGBAAS_API_KEY)

        assert WebhookDelivery.objects.get().repeats == 1


def test_a_nul_character_in_a_signed_payload_is_stored_replaced(client, integration):
    payload = {
        "event": "calendar.event_created",
        "data": {"calendar_id": str(integration.remote_id), "title\x00": "a\x00b"},
    }

    response = post_v2(client, payload)

    assert response.status_code == 200
    assert WebhookDelivery.objects.get().payload["data"]["title\ufffd"] == "a\ufffdb"


@pytest.mark.parametrize("number", ["Infinity", "-Infinity", "NaN", "1e999"])
def test_a_signed_payload_with_a_number_json_does_not_have_is_refused(client, integration, number):
    data = f'{{"calendar_id": "{integration.remote_id}", "updated_at": {number}}}'
    body = f'{{"event": "calendar.connection_updated", "data": {data}}}'

    response = post(client, body, **svix_headers(body))

    assert response.status_code == 400
    assert not WebhookDelivery.objects.exists()
