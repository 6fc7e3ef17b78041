"""Property: whatever arrives at the webhook endpoint, never a 500, and never a change unsigned."""

from __future__ import annotations

import json

from django.test import Client, TestCase
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calendars.models import Integration, StatusChange, WebhookDelivery
from tests.support.webhook_signing import URL, svix_headers

HEADER_NAMES = st.sampled_from(
    [
        "HTTP_SVIX_ID",
        "HTTP_SVIX_TIMESTAMP",
        "HTTP_SVIX_SIGNATURE",
        "HTTP_WEBHOOK_ID",
        "HTTP_X_MEETING_BAAS_API_KEY",
    ]
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def plausible_payloads(remote_id: str) -> st.SearchStrategy:
    events = st.sampled_from(
        [
            "calendar.connection_updated",
            "calendar.connection_deleted",
            "calendar.events_synced",
            "calendar.sync_events",
            "x",
        ]
    )
    data = st.fixed_dictionaries(
        {"calendar_id": st.sampled_from([remote_id, "not-a-uuid", None])},
        optional={
            "status": st.sampled_from(["active", "error", "revoked", 3, None]),
            "updated_at": JSON_VALUES,
        },
    )
    return st.fixed_dictionaries({"event": events, "data": data}) | JSON_VALUES


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_unsigned_or_random_deliveries_never_crash_or_change_state(db, make_integration, data):
    integration = Integration.objects.first() or make_integration()
    before = (integration.status, StatusChange.objects.count(), WebhookDelivery.objects.count())
    payload = data.draw(plausible_payloads(str(integration.remote_id)))
    body = data.draw(
        st.sampled_from([json.dumps(payload), json.dumps(payload)[:-1]]) | st.binary(max_size=200)
    )
    headers = data.draw(st.dictionaries(HEADER_NAMES, st.text(max_size=60), max_size=4))

    response = Client().post(URL, body, content_type="application/json", **headers)

    assert response.status_code in (400, 401, 413), response.status_code
    integration.refresh_from_db()
    assert (
        integration.status,
        StatusChange.objects.count(),
        WebhookDelivery.objects.count(),
    ) == before


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_signed_odd_payloads_are_answered_without_a_500(db, make_integration, data):
    integration = Integration.objects.first() or make_integration()
    payload = data.draw(plausible_payloads(str(integration.remote_id)))
    body = json.dumps(payload)

    # The queued processing runs too (inline): odd but signed data must not crash it either.
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = Client().post(URL, body, content_type="application/json", **svix_headers(body))

    assert response.status_code in (200, 400), response.status_code
