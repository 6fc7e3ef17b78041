"""The v1 client against the live sandbox."""

from __future__ import annotations

import time

import pytest

from calendars.meetingbaas import errors
from calendars.meetingbaas.transport import Transport
from calendars.meetingbaas.types import OAuthGrant, Platform
from calendars.meetingbaas.v1 import V1Client
from calendars.status import PortalStatus

GRANT = OAuthGrant(Platform.GOOGLE, "cid", "csecret", "rt:carol@example.com")


@pytest.fixture
def client(sandbox) -> V1Client:
    return V1Client(Transport(sandbox.transport_config()))


def test_it_lists_raw_calendars_with_a_capitalised_platform(client, sandbox):
    calendars = client.list_raw_calendars(GRANT)

    assert calendars[0].is_primary and calendars[0].id == "carol@example.com"
    assert sandbox.requests_to("POST", "/calendars/raw")[0]["json"]["platform"] == "Google"


def test_a_calendar_is_syncing_until_events_are_seen(client):
    created = client.create_connection(GRANT, "carol@example.com")
    assert created.portal_status == PortalStatus.SYNCING
    assert created.raw_calendar_id == "carol@example.com"

    time.sleep(0.35)

    assert client.get_connection(created.remote_id).portal_status == PortalStatus.ACTIVE


def test_list_is_one_call_and_filters_by_account(client, sandbox):
    client.create_connection(GRANT, "carol@example.com")
    other = OAuthGrant(Platform.GOOGLE, "cid", "csecret", "rt:dan@example.com")
    client.create_connection(other, "dan@example.com")

    assert [c.account_email for c in client.list_connections(account_email="dan@example.com")] == [
        "dan@example.com"
    ]
    assert len(sandbox.requests_to("GET", "/calendars/")) == 1


def test_resync_reports_a_failing_calendar(client, sandbox):
    created = client.create_connection(GRANT, "carol@example.com")
    sandbox.force(created.remote_id, status="error", status_message="token expired")

    with pytest.raises(errors.MeetingBaasError, match="token expired"):
        client.resync(created.remote_id)


def test_delete_then_get_is_not_found(client):
    created = client.create_connection(GRANT, "carol@example.com")

    client.update_credentials(created.remote_id, GRANT)
    client.delete_connection(created.remote_id)

    with pytest.raises(errors.NotFound):
        client.get_connection(created.remote_id)


def test_find_connection_matches_the_raw_calendar(client):
    created = client.create_connection(GRANT, "carol@example.com")

    found = client.find_connection(GRANT, "carol@example.com", "carol@example.com", set())

    assert found.remote_id == created.remote_id
