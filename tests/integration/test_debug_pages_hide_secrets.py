"""A 500, even with DEBUG on, shows no secret: in the webhook receiver, nor in an API call."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
import requests
from django.urls import reverse
from standardwebhooks.webhooks import Webhook

from calendars.models import Credential, Integration, OAuthApp
from calendars.web import webhooks
from tests.integration.test_webhook_receiver import updated
from tests.support.webhook_signing import post, post_v2

API_KEY = "mbaas-live-key-7c41d09e5f2a"


@pytest.fixture
def debug_client(client, settings, integration):
    """A client that gets Django's technical 500 page instead of the exception.

    The integration is made first: the sandbox accepts only its own API key.
    """
    settings.DEBUG = True
    settings.MEETINGBAAS_API_KEY = API_KEY
    settings.MEETINGBAAS_WEBHOOKS_V1 = True
    client.raise_request_exception = False
    return client


@pytest.fixture
def integration(make_integration) -> Integration:
    return make_integration()


def secrets_in(settings) -> list[str]:
    """Every form a configured secret could take on the page."""
    forms = [settings.MEETINGBAAS_API_KEY]
    for secret in settings.MEETINGBAAS_WEBHOOK_SECRET:
        encoded = secret.removeprefix("whsec_")
        forms += [secret, encoded, base64.b64decode(encoded).decode()]
    return forms


def assert_a_debug_page_without_secrets(response, settings, *, frame: str) -> None:
    page = response.content.decode()
    assert response.status_code == 500
    assert "forced failure" in page and frame in page  # the technical page, with its frames
    for secret in secrets_in(settings):
        assert secret not in page


def sync_events(integration: Integration) -> str:
    return json.dumps(
        {
            "event": "calendar.sync_events",
            "data": {"calendar_id": str(integration.remote_id), "affected_event_uuids": []},
        }
    )


def test_a_failure_after_the_signature_check_shows_no_secret(
    debug_client, integration, settings, monkeypatch
):
    class FailingAfterVerifying(Webhook):
        def verify(self, data: object, headers: dict, **options: object) -> object:
            super().verify(data, headers, **options)
            raise RuntimeError("forced failure after the signature was verified")

    monkeypatch.setattr(webhooks, "Webhook", FailingAfterVerifying)

    response = post_v2(debug_client, updated(integration, "active", datetime.now(UTC)))

    assert_a_debug_page_without_secrets(response, settings, frame="_verify_svix")


def test_a_failure_while_checking_the_api_key_shows_no_key(
    debug_client, integration, settings, monkeypatch
):
    def failing_compare(given: bytes, expected: bytes) -> bool:
        raise RuntimeError("forced failure while comparing API keys")

    monkeypatch.setattr(webhooks, "hmac", SimpleNamespace(compare_digest=failing_compare))

    response = post(debug_client, sync_events(integration), HTTP_X_MEETING_BAAS_API_KEY=API_KEY)

    assert_a_debug_page_without_secrets(response, settings, frame="_verify_api_key")


@pytest.mark.parametrize("api_version", ["v1", "v2"])
def test_a_failure_after_authentication_shows_no_secret(
    debug_client, integration, settings, monkeypatch, api_version
):
    def failing_store(*args: object) -> bool:
        raise RuntimeError("forced failure after authentication")

    monkeypatch.setattr(webhooks, "_store", failing_store)

    if api_version == "v2":
        response = post_v2(debug_client, updated(integration, "active", datetime.now(UTC)))
    else:
        body = sync_events(integration)
        response = post(debug_client, body, HTTP_X_MEETING_BAAS_API_KEY=API_KEY)

    assert_a_debug_page_without_secrets(response, settings, frame="receive")


def test_a_failure_inside_an_api_call_shows_no_grant_and_no_key(
    debug_client, credential, settings, monkeypatch, admin_user
):
    def failing_request(session: requests.Session, method: str, url: str, **kwargs: object):
        raise RuntimeError("forced failure while sending the request")

    monkeypatch.setattr(requests.Session, "request", failing_request)
    debug_client.force_login(admin_user)
    data = {"action": "list_raw_calendars", "_selected_action": [credential.pk]}

    response = debug_client.post(reverse("admin:calendars_credential_changelist"), data)

    assert_a_debug_page_without_secrets(response, settings, frame="_send")
    page = response.content.decode()
    stored = Credential.objects.select_related("oauth_app").get(pk=credential.pk)
    assert stored.refresh_token.reveal() not in page
    assert stored.oauth_app.client_secret.reveal() not in page


@pytest.mark.parametrize(
    ("changelist", "action", "field", "model"),
    [
        ("credential", "replace_refresh_token", "refresh_token", Credential),
        ("oauthapp", "rotate_client_secret", "client_secret", OAuthApp),
    ],
)
def test_a_failure_while_storing_a_new_secret_shows_no_secret(
    debug_client, credential, monkeypatch, admin_user, changelist, action, field, model
):
    def failing_save(self: object, *args: object, **kwargs: object) -> None:
        raise RuntimeError("forced failure while storing the secret")

    monkeypatch.setattr(model, "save", failing_save)
    debug_client.force_login(admin_user)
    target = credential if changelist == "credential" else credential.oauth_app
    new_secret = f"brand-new-{field}-9f8e7d6c"
    data = {"action": action, "_selected_action": [target.pk], "apply": "1", field: new_secret}

    response = debug_client.post(reverse(f"admin:calendars_{changelist}_changelist"), data)

    assert response.status_code == 500
    assert "forced failure while storing the secret" in response.content.decode()
    assert new_secret not in response.content.decode()
