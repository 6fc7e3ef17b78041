"""The operation label /metrics gives each Meeting BaaS request: its kind, never its ids."""

from __future__ import annotations

import pytest

from calendars.meetingbaas.observed import operation, outcome_of

CONNECTION = "3fa85f64-5717-4562-b3fc-2c963f66afa6"


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/v2/calendars", "GET /v2/calendars"),
        ("GET", f"/v2/calendars/{CONNECTION}?cursor=abc123", "GET /v2/calendars/{id}"),
        ("POST", f"/v2/calendars/{CONNECTION}/bots", "POST /v2/calendars/{id}/bots"),
        (
            "GET",
            f"/v2/calendars/{CONNECTION}/events/{CONNECTION}",
            "GET /v2/calendars/{id}/events/{id}",
        ),
        ("POST", "/v2/calendars/list-raw", "POST /v2/calendars/list-raw"),
        ("POST", "/calendars/resync_all", "POST /calendars/resync_all"),
        ("GET", "/calendar_events/12345", "GET /calendar_events/{id}"),
        ("DELETE", "/calendars/AAMkAGI2TG93AAA1234=", "DELETE /calendars/{id}"),
    ],
)
def test_ids_become_placeholders_and_the_api_words_stay(method, path, expected):
    assert operation(method, path) == expected


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(200, "ok"), (204, "ok"), (404, "client_error"), (429, "rate_limited"), (503, "server_error")],
)
def test_an_answer_s_outcome(status, outcome):
    assert outcome_of(status) == outcome
