"""How far remote news is believed: times from the future, v1's API-key deliveries, switches."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from calendars.actions.refresh import refresh_integration
from calendars.models import Integration, WebhookDelivery
from tests.integration.test_webhook_receiver import iso, updated
from tests.support.webhook_signing import post, post_v2
from tests.system.test_settings import run_with_settings

Outcome = WebhookDelivery.Outcome
YEAR_2099 = datetime(2099, 1, 1, tzinfo=UTC)


def sync_events(integration: Integration, event: str = "calendar.sync_events") -> dict:
    return {
        "event": event,
        "data": {
            "calendar_id": str(integration.remote_id),
            "last_updated_ts": iso(datetime.now(UTC)),
            "deleted_at": iso(datetime.now(UTC)),
            "affected_event_uuids": [],
        },
    }


def post_v1(client, payload: dict, api_key: str) -> object:
    return post(client, json.dumps(payload), HTTP_X_MEETING_BAAS_API_KEY=api_key)


@pytest.fixture
def integration(make_integration) -> Integration:
    return make_integration()


@pytest.fixture
def v1_integration(make_integration, settings) -> Integration:
    settings.MEETINGBAAS_API_VERSION = "v1"
    integration = make_integration("alice.team@group.calendar.google.com")
    settings.MEETINGBAAS_API_VERSION = "v2"
    return integration


class TestTimesFromTheFuture:
    def test_a_delivery_dated_in_the_future_does_not_pin_the_status(
        self, client, integration, sandbox
    ):
        sandbox.force(integration.remote_id, status="error", status_message="Quota exceeded")
        post_v2(client, updated(integration, "error", YEAR_2099))
        sandbox.force(integration.remote_id, status="active", synced=True)

        refresh_integration(integration.pk)

        integration.refresh_from_db()
        assert integration.status == "active"
        assert WebhookDelivery.objects.get().event_time < datetime.now(UTC)

    def test_an_api_answer_dated_in_the_future_does_not_pin_the_status(
        self, client, integration, sandbox
    ):
        future = {"updated_at": "2099-01-01T00:00:00Z", "status": "error"}
        sandbox.fault("GET", "/v2/calendars/.+", "patched", patch=future)
        refresh_integration(integration.pk)

        post_v2(client, updated(integration, "revoked", datetime.now(UTC)))

        integration.refresh_from_db()
        assert integration.status == "disconnected"
        assert WebhookDelivery.objects.get().outcome == Outcome.APPLIED

    def test_a_future_time_stored_before_the_clamp_no_longer_pins(self, client, integration):
        Integration.objects.filter(pk=integration.pk).update(remote_updated_at=YEAR_2099)

        post_v2(client, updated(integration, "revoked", datetime.now(UTC)))

        integration.refresh_from_db()
        assert integration.status == "disconnected"

    def test_a_time_within_the_allowed_clock_skew_is_kept(self, client, integration, settings):
        ahead = datetime.now(UTC).replace(microsecond=0) + timedelta(
            seconds=settings.MEETINGBAAS_CLOCK_SKEW_SECONDS - 60
        )

        post_v2(client, updated(integration, "active", ahead))

        assert WebhookDelivery.objects.get().event_time == ahead


class TestApiVersions:
    @pytest.fixture(autouse=True)
    def v1_webhooks_on(self, settings) -> None:
        settings.MEETINGBAAS_WEBHOOKS_V1 = True

    @pytest.mark.parametrize("event", ["calendar.sync_events", "calendar.connection_deleted"])
    def test_a_v1_delivery_never_changes_a_v2_integration(
        self, client, integration, settings, event
    ):
        response = post_v1(client, sync_events(integration, event), settings.MEETINGBAAS_API_KEY)

        assert response.status_code == 200
        integration.refresh_from_db()
        assert integration.status == "syncing"
        assert not integration.status_changes.filter(cause="webhook").exists()
        assert WebhookDelivery.objects.get().outcome in (Outcome.FAILED, Outcome.UNKNOWN_EVENT)

    def test_a_v1_sync_for_a_v2_integration_fails_saying_why(self, client, integration, settings):
        post_v1(client, sync_events(integration), settings.MEETINGBAAS_API_KEY)

        delivery = WebhookDelivery.objects.get()
        assert delivery.outcome == Outcome.FAILED
        assert delivery.error == "An API v1 webhook cannot change an API v2 integration."
        assert delivery.integration == integration

    def test_a_v1_delivery_carries_only_v1_events(self, client, v1_integration, settings):
        payload = sync_events(v1_integration, "calendar.connection_deleted")

        post_v1(client, payload, settings.MEETINGBAAS_API_KEY)

        v1_integration.refresh_from_db()
        assert v1_integration.status == "syncing"
        assert WebhookDelivery.objects.get().outcome == Outcome.UNKNOWN_EVENT

    def test_a_v1_sync_still_ends_syncing_on_a_v1_integration(
        self, client, v1_integration, settings
    ):
        post_v1(client, sync_events(v1_integration), settings.MEETINGBAAS_API_KEY)

        v1_integration.refresh_from_db()
        assert v1_integration.status == "active"

    def test_a_v2_delivery_never_changes_a_v1_integration(self, client, v1_integration):
        payload = updated(v1_integration, "revoked", datetime.now(UTC))

        post_v2(client, payload)

        v1_integration.refresh_from_db()
        assert v1_integration.status == "syncing"
        assert WebhookDelivery.objects.get().outcome == Outcome.FAILED


class TestSwitches:
    def test_v2_webhooks_switched_off_are_refused_and_nothing_is_stored(
        self, client, integration, settings
    ):
        settings.MEETINGBAAS_WEBHOOKS_V2 = False

        response = post_v2(client, updated(integration, "revoked", datetime.now(UTC)))

        assert response.status_code == 403
        assert "MEETINGBAAS_WEBHOOKS_V2" in response.json()["error"]
        assert not WebhookDelivery.objects.exists()

    def test_v1_webhooks_switched_off_are_refused_and_nothing_is_stored(
        self, client, v1_integration, settings
    ):
        settings.MEETINGBAAS_WEBHOOKS_V1 = False

        response = post_v1(client, sync_events(v1_integration), settings.MEETINGBAAS_API_KEY)

        assert response.status_code == 403
        assert "MEETINGBAAS_WEBHOOKS_V1" in response.json()["error"]
        assert not WebhookDelivery.objects.exists()
        v1_integration.refresh_from_db()
        assert v1_integration.status == "syncing"

    def test_a_switched_off_version_tells_only_an_authenticated_sender(
        self, client, v1_integration, settings
    ):
        settings.MEETINGBAAS_WEBHOOKS_V1 = False

        response = post_v1(client, sync_events(v1_integration), "a guess")

        assert response.status_code == 401

    @pytest.mark.parametrize(
        ("api_version", "v1_on"), [("v2", "False"), ("v1", "True")], ids=["v2", "v1"]
    )
    def test_v1_webhooks_are_on_by_default_only_where_v1_is_the_api_version(
        self, tmp_path, api_version, v1_on
    ):
        result = run_with_settings(
            "from portal import settings as s; "
            "print(s.MEETINGBAAS_WEBHOOKS_V1, s.MEETINGBAAS_WEBHOOKS_V2)",
            DEBUG="true",
            PORTAL_VAR_DIR=str(tmp_path),
            MEETINGBAAS_API_VERSION=api_version,
        )

        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == [v1_on, "True"]
