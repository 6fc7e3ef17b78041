"""The v2 client against the live sandbox: each operation and each error path."""

from __future__ import annotations

import dataclasses
import time
import uuid

import pytest

from calendars.meetingbaas import errors, v2
from calendars.meetingbaas.transport import Transport
from calendars.meetingbaas.types import OAuthGrant, Platform
from calendars.meetingbaas.v2 import V2Client
from calendars.status import PortalStatus

GRANT = OAuthGrant(
    Platform.GOOGLE, "cid.apps.googleusercontent.com", "csecret", "rt:alice@example.com"
)
MS_GRANT = OAuthGrant(
    Platform.MICROSOFT, "6731de76-14a6-49ae-97bc-6eba6914391e", "ms", "rt:bob@contoso.example"
)


@pytest.fixture
def client(sandbox) -> V2Client:
    return V2Client(Transport(sandbox.transport_config()))


def test_it_lists_raw_calendars_with_the_spec_body(client, sandbox):
    calendars = client.list_raw_calendars(GRANT)

    assert [c.is_primary for c in calendars] == [True, False, False]
    assert calendars[0].id == "alice@example.com"
    sent = sandbox.requests_to("POST", "/v2/calendars/list-raw")[0]["json"]
    # The log redacts secrets; the account the sandbox answered for (alice) shows the token came.
    assert sent == {
        "calendar_platform": "google",
        "oauth_client_id": "cid.apps.googleusercontent.com",
        "oauth_client_secret": "[redacted]",
        "oauth_refresh_token": "[redacted]",
    }


def test_it_sends_the_tenant_for_microsoft(client, sandbox):
    client.list_raw_calendars(MS_GRANT)

    sent = sandbox.requests_to("POST", "/v2/calendars/list-raw")[0]["json"]
    assert sent["calendar_platform"] == "microsoft"
    assert sent["oauth_tenant_id"] == "common"


def test_a_new_connection_is_syncing_then_active(client, sandbox):
    created = client.create_connection(GRANT, "alice@example.com")

    assert created.portal_status == PortalStatus.SYNCING
    assert created.account_email == "alice@example.com"
    time.sleep(0.35)
    fetched = client.get_connection(created.remote_id)
    assert fetched.portal_status == PortalStatus.ACTIVE
    assert fetched.synced_at is not None
    assert fetched.raw_calendar_id == "alice@example.com"


def test_remote_error_maps_to_error_with_the_api_message(client, sandbox):
    created = client.create_connection(GRANT, "alice@example.com")
    sandbox.force(created.remote_id, status="error", status_message="Google said no")

    fetched = client.get_connection(created.remote_id)

    assert fetched.portal_status == PortalStatus.ERROR
    assert fetched.portal_message == "Google said no"
    assert fetched.status == "error"


def test_revoked_maps_to_disconnected(client, sandbox):
    created = client.create_connection(GRANT, "alice@example.com")
    sandbox.force(created.remote_id, status="revoked")

    assert client.get_connection(created.remote_id).portal_status == PortalStatus.DISCONNECTED


def test_it_follows_list_cursors(client, sandbox, monkeypatch):
    monkeypatch.setattr(v2, "PAGE_SIZE", 2)
    for raw_id in (
        "alice@example.com",
        "alice.team@group.calendar.google.com",
        "alice.oncall@group.calendar.google.com",
    ):
        client.create_connection(GRANT, raw_id)

    listed = list(client.list_connections())

    assert len(listed) == 3
    assert len(sandbox.requests_to("GET", "/v2/calendars")) == 2
    assert all(not c.is_detailed for c in listed)


def test_update_delete_and_resync(client, sandbox):
    created = client.create_connection(GRANT, "alice@example.com")
    renewed = dataclasses.replace(
        GRANT, client_secret="csecret-2", refresh_token="rt2:alice@example.com"
    )

    client.update_credentials(created.remote_id, renewed)
    held = sandbox.connection(created.remote_id)
    client.resync(created.remote_id)
    client.delete_connection(created.remote_id)

    patch = sandbox.requests_to("PATCH", "/v2/calendars/")[0]["json"]
    assert "calendar_platform" not in patch
    assert (held.client_secret, held.refresh_token) == ("csecret-2", "rt2:alice@example.com")
    assert sandbox.requests_to("POST", f"/v2/calendars/{created.remote_id}/sync")[0]["json"] == {}
    with pytest.raises(errors.NotFound):
        client.get_connection(created.remote_id)


def test_a_duplicate_create_is_a_conflict(client):
    client.create_connection(GRANT, "alice@example.com")

    with pytest.raises(errors.Conflict) as caught:
        client.create_connection(GRANT, "alice@example.com")
    assert caught.value.http_status == 409


def test_a_revoked_refresh_token_is_refused(client):
    grant = OAuthGrant(Platform.GOOGLE, "cid", "csecret", "revoked:alice@example.com")

    with pytest.raises(errors.OAuthRefused) as caught:
        client.list_raw_calendars(grant)
    assert "invalid_grant" in str(caught.value)
    assert not caught.value.transient


def test_a_missing_microsoft_licence_is_permission_denied(client):
    grant = OAuthGrant(Platform.MICROSOFT, "cid", "csecret", "nolicense:bob@contoso.example")

    with pytest.raises(errors.PermissionDenied):
        client.list_raw_calendars(grant)


def test_a_wrong_api_key_is_reported_as_such(sandbox):
    client = V2Client(Transport(sandbox.transport_config(api_key="not-the-key")))

    with pytest.raises(errors.ApiKeyRejected) as caught:
        client.list_raw_calendars(GRANT)
    assert "MEETINGBAAS_API_KEY" in str(caught.value)


def test_an_unknown_connection_is_not_found(client):
    with pytest.raises(errors.NotFound):
        client.get_connection(uuid.uuid4())


def test_it_finds_the_connection_for_a_raw_calendar(client):
    client.create_connection(GRANT, "alice@example.com")
    team = client.create_connection(GRANT, "alice.team@group.calendar.google.com")

    found = client.find_connection(
        GRANT, "alice@example.com", "alice.team@group.calendar.google.com", set()
    )
    not_found = client.find_connection(
        GRANT, "alice@example.com", "alice.team@group.calendar.google.com", {team.remote_id}
    )

    assert found.remote_id == team.remote_id
    assert not_found is None
