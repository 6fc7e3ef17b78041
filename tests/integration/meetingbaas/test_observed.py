"""Every attempt the transport makes is announced once as it ends, answered or not: what
/metrics counts."""

from __future__ import annotations

import pytest

from calendars.meetingbaas import errors
from calendars.meetingbaas.observed import request_ended
from calendars.meetingbaas.transport import Transport, TransportConfig
from calendars.meetingbaas.v2 import V2Client


@pytest.fixture
def ended() -> list[dict]:
    seen: list[dict] = []

    def listen(sender: object, **about: object) -> None:
        seen.append(about)

    request_ended.connect(listen)
    yield seen
    request_ended.disconnect(listen)


def test_each_retry_of_an_unreachable_server_is_seen(ended):
    transport = Transport(
        TransportConfig(base_url="http://127.0.0.1:9", api_key="k", max_retries=2, backoff=0.01),
        sleep=lambda s: None,
    )
    with pytest.raises(errors.Unavailable):
        V2Client(transport).get_connection("3fa85f64-5717-4562-b3fc-2c963f66afa6")

    assert [(e["operation"], e["outcome"]) for e in ended] == [
        ("GET /v2/calendars/{id}", "connection_error")
    ] * 3


def test_a_timeout_and_an_answer_are_told_apart(sandbox, ended):
    transport = Transport(sandbox.transport_config(read_timeout=0.2, max_retries=1))
    sandbox.fault("GET", "/v2/calendars", "slow", delay=0.5)

    list(V2Client(transport).list_connections())

    assert [e["outcome"] for e in ended] == ["timeout", "ok"]
    assert ended[0]["seconds"] >= 0.2
    assert {e["operation"] for e in ended} == {"GET /v2/calendars"}
