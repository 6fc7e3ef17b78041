"""Retries, timeouts and error mapping, against sandbox faults over real HTTP."""

from __future__ import annotations

import time

import pytest

from calendars.meetingbaas import errors
from calendars.meetingbaas.transport import Transport
from calendars.meetingbaas.types import OAuthGrant, Platform
from calendars.meetingbaas.v2 import V2Client

GRANT = OAuthGrant(Platform.GOOGLE, "cid", "csecret", "rt:alice@example.com")


def make_client(sandbox, **overrides) -> tuple[V2Client, list[float]]:
    waits: list[float] = []
    transport = Transport(sandbox.transport_config(**overrides), sleep=waits.append)
    return V2Client(transport), waits


def test_an_idempotent_call_is_retried_after_503(sandbox):
    client, waits = make_client(sandbox)
    created = client.create_connection(GRANT, "alice@example.com")
    sandbox.fault("GET", "/v2/calendars/.*", "status", status=503, count=2)

    client.get_connection(created.remote_id)

    assert len(sandbox.requests_to("GET", "/v2/calendars/")) == 3
    assert waits == [0.01, 0.02]


def test_retry_after_is_honoured_on_429(sandbox):
    client, waits = make_client(sandbox)
    sandbox.fault("POST", "/v2/calendars/list-raw", "status", status=429, retry_after=1)

    client.list_raw_calendars(GRANT)

    assert waits == [1.0]


def test_a_long_retry_after_is_reported_not_waited(sandbox):
    client, waits = make_client(sandbox, max_wait=2.0)
    sandbox.fault("POST", "/v2/calendars/list-raw", "status", status=429, retry_after=30)

    with pytest.raises(errors.RateLimited) as caught:
        client.list_raw_calendars(GRANT)

    assert waits == []
    assert "retry in 30 s" in str(caught.value)


def test_retries_stop_at_the_limit(sandbox):
    client, _ = make_client(sandbox, max_retries=2)
    sandbox.fault("*", "/v2/calendars", "status", status=502, count=10)

    with pytest.raises(errors.Unavailable):
        list(client.list_connections())

    assert len(sandbox.requests_to("GET", "/v2/calendars")) == 3


def test_a_create_is_not_retried_after_a_server_error(sandbox):
    client, _ = make_client(sandbox)
    sandbox.fault("POST", "/v2/calendars", "status", status=500)

    with pytest.raises(errors.Unavailable):
        client.create_connection(GRANT, "alice@example.com")

    assert len(sandbox.requests_to("POST", "/v2/calendars")) == 1


def test_a_hang_becomes_a_timeout_within_the_read_timeout(sandbox):
    client, _ = make_client(sandbox, read_timeout=0.3, max_retries=0)
    sandbox.fault("POST", "/v2/calendars", "slow", delay=1.0)

    started = time.monotonic()
    with pytest.raises(errors.Unavailable) as caught:
        client.create_connection(GRANT, "alice@example.com")

    assert time.monotonic() - started < 0.9
    assert "no answer within 0.3 s" in str(caught.value)


def test_a_reset_connection_is_unavailable(sandbox):
    client, _ = make_client(sandbox, max_retries=0)
    sandbox.fault("POST", "/v2/calendars", "reset")

    with pytest.raises(errors.Unavailable):
        client.create_connection(GRANT, "alice@example.com")


def test_a_body_that_is_not_json_is_a_bad_response(sandbox):
    client, _ = make_client(sandbox, max_retries=0)
    sandbox.fault("POST", "/v2/calendars/list-raw", "malformed")

    with pytest.raises(errors.BadResponse):
        client.list_raw_calendars(GRANT)


def test_an_answer_missing_fields_is_a_bad_response(sandbox):
    client, _ = make_client(sandbox, max_retries=0)
    sandbox.fault("POST", "/v2/calendars", "incomplete")

    with pytest.raises(errors.BadResponse) as caught:
        client.create_connection(GRANT, "alice@example.com")
    assert "calendar_id" in str(caught.value)


def test_an_unreachable_server_is_unavailable():
    from calendars.meetingbaas.transport import TransportConfig

    transport = Transport(
        TransportConfig(base_url="http://127.0.0.1:9", api_key="k", max_retries=1, backoff=0.01),
        sleep=lambda s: None,
    )
    with pytest.raises(errors.Unavailable) as caught:
        V2Client(transport).list_raw_calendars(GRANT)
    assert "could not be reached" in str(caught.value)


def test_it_sends_the_api_key_header(sandbox):
    client, _ = make_client(sandbox)
    client.list_raw_calendars(GRANT)
    # The sandbox answers 401 without the header; reaching it with data proves it was sent.
    assert sandbox.requests_to("POST", "/v2/calendars/list-raw")
