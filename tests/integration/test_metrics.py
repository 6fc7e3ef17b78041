"""GET /metrics: Prometheus' text format, for a scraper holding METRICS_TOKEN, read from the
counts the portal keeps."""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.brokers import get_broker
from prometheus_client.parser import text_string_to_metric_families

from calendars import tasks
from calendars.actions.refresh import refresh_integration
from calendars.consent.links import revoke
from calendars.metrics import names, totals
from calendars.metrics import queue as metrics_queue
from calendars.models import (
    BotAttempt,
    ConsentLink,
    Heartbeat,
    Integration,
    Meeting,
    RawCalendar,
    WebhookDelivery,
)
from calendars.queue import enqueue
from tests.support.webhook_signing import post, post_v2

TOKEN = "metrics-token-for-the-prometheus-server-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
FAMILIES = {
    "portal_integrations",
    "portal_problems",
    "portal_meetingbaas_calls",
    "portal_meetingbaas_call_duration_seconds",
    "portal_webhook_deliveries_received",
    "portal_webhook_deliveries_processed",
    "portal_webhook_delivery_lag_seconds",
    "portal_webhook_last_received_timestamp_seconds",
    "portal_bot_attempts",
    "portal_tasks_lost",
    "portal_broker_up",
    "portal_queue_tasks",
    "portal_queue_oldest_task_age_seconds",
    "portal_queue_group_tasks",
    "portal_queue_group_oldest_task_age_seconds",
    "portal_consent_links",
    "portal_cluster_heartbeat_timestamp_seconds",
    "portal_last_heartbeat_timestamp_seconds",
}


@pytest.fixture(autouse=True)
def _token(settings) -> None:
    settings.METRICS_TOKEN = TOKEN
    # Counts earlier tests left in this process are not this test's.
    totals._pending.clear()


def scrape(client) -> dict[str, dict[tuple, float]]:
    """{family: {(sample name, sorted labels): value}} of one authorised scrape, after this
    process's counts are written (as its flusher would)."""
    totals.flush()
    response = client.get("/metrics", headers=BEARER)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return {
        family.name: {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for sample in family.samples
        }
        for family in text_string_to_metric_families(response.content.decode())
    }


def value(scraped: dict, family: str, sample: str | None = None, **labels: str) -> float | None:
    return scraped[family].get((sample or family, tuple(sorted(labels.items()))))


def integration_row(credential, n: int, status: str, message: str = "", version: str = "v2"):
    raw = RawCalendar.objects.create(
        credential=credential, provider_id=f"cal-{n}", name=f"Cal {n}", listed_at=timezone.now()
    )
    return Integration.objects.create(
        credential=credential,
        raw_calendar=raw,
        remote_id=uuid.uuid4(),
        api_version=version,
        provider="google",
        status=status,
        error_message=message,
    )


@pytest.mark.parametrize(
    ("configured", "headers", "status"),
    [
        ("", BEARER, 403),  # no token configured: nobody is answered
        (TOKEN, {}, 401),
        (TOKEN, {"Authorization": f"Basic {TOKEN}"}, 401),
        (TOKEN, {"Authorization": "Bearer not-the-token"}, 403),
        (TOKEN, {"Authorization": f"Bearer {TOKEN}x"}, 403),
        (TOKEN, BEARER, 200),
    ],
)
def test_only_the_token_opens_it(client, db, settings, configured, headers, status):
    settings.METRICS_TOKEN = configured

    response = client.get("/metrics", headers=headers)

    assert response.status_code == status
    if status == 401:
        assert response["WWW-Authenticate"].startswith("Bearer")
    if status != 200:
        assert b"portal_" not in response.content


def test_every_family_is_there_in_prometheus_text_format(client, db):
    scraped = scrape(client)

    assert set(scraped) >= FAMILIES
    assert value(scraped, "portal_broker_up") == 1


def test_integrations_by_status_and_version_and_problems_by_class(client, credential):
    integration_row(credential, 1, "error", "invalid_grant: Token has been revoked.")
    integration_row(credential, 2, "error", "invalid_grant: Token has been revoked.")
    integration_row(credential, 3, "active")
    integration_row(credential, 4, "active", version="v1")

    scraped = scrape(client)

    def integrations(status: str, version: str) -> float:
        return value(
            scraped, "portal_integrations", status=status, provider="google", api_version=version
        )

    assert integrations("error", "v2") == 2
    assert integrations("active", "v2") == 1
    assert integrations("active", "v1") == 1
    assert integrations("error", "v1") == 0
    assert value(scraped, "portal_problems", problem="token_refused") == 2
    assert value(scraped, "portal_problems", problem="client_secret") == 0


def test_webhooks_received_processed_failed_and_their_lag(client, make_integration, settings):
    integration = make_integration()
    applied = {
        "event": "calendar.connection_deleted",
        "data": {"calendar_id": str(integration.remote_id)},
    }
    assert post_v2(client, applied, age=timedelta(seconds=40)).status_code == 200
    # A v1 delivery naming a v2 integration fails, saying why.
    settings.MEETINGBAAS_WEBHOOKS_V1 = True
    v1 = {
        "event": "calendar.sync_events",
        "data": {"calendar_id": str(integration.remote_id), "affected_event_uuids": []},
    }
    key = settings.MEETINGBAAS_API_KEY
    response = post(client, json.dumps(v1), HTTP_X_MEETING_BAAS_API_KEY=key)
    assert response.status_code == 200
    outcomes = dict(WebhookDelivery.objects.values_list("api_version", "outcome"))
    assert outcomes == {"v2": "applied", "v1": "failed"}

    scraped = scrape(client)

    received = "portal_webhook_deliveries_received"
    assert value(scraped, received, f"{received}_total", api_version="v2") == 1
    assert value(scraped, received, f"{received}_total", api_version="v1") == 1
    processed = "portal_webhook_deliveries_processed"
    for version, outcome in (("v2", "applied"), ("v1", "failed")):
        labels = {"api_version": version, "outcome": outcome}
        assert value(scraped, processed, f"{processed}_total", **labels) == 1
    lag = "portal_webhook_delivery_lag_seconds"
    assert value(scraped, lag, f"{lag}_count", api_version="v2") == 1
    # Sent 40 s before it was posted (its Svix timestamp): in the 60 s bucket, not the 30 s.
    assert value(scraped, lag, f"{lag}_bucket", api_version="v2", le="30.0") == 0
    assert value(scraped, lag, f"{lag}_bucket", api_version="v2", le="60.0") == 1
    assert 40 <= value(scraped, lag, f"{lag}_sum", api_version="v2") < 60
    last = value(scraped, "portal_webhook_last_received_timestamp_seconds", api_version="v1")
    assert abs(last - timezone.now().timestamp()) < 60


def test_meetingbaas_calls_by_operation_and_outcome_with_their_time(
    client, make_integration, sandbox
):
    integration = make_integration()
    sandbox.fault("GET", f"/v2/calendars/{integration.remote_id}", "status", status=503)
    refresh_integration(integration.pk)  # a 503, then (retried) an answer

    scraped = scrape(client)

    calls = "portal_meetingbaas_calls"
    get = "GET /v2/calendars/{id}"
    assert value(scraped, calls, f"{calls}_total", operation=get, outcome="server_error") == 1
    assert value(scraped, calls, f"{calls}_total", operation=get, outcome="ok") == 1
    created = value(scraped, calls, f"{calls}_total", operation="POST /v2/calendars", outcome="ok")
    assert created == 1
    seconds = "portal_meetingbaas_call_duration_seconds"
    assert value(scraped, seconds, f"{seconds}_count", operation=get) == 2
    assert value(scraped, seconds, f"{seconds}_bucket", le="+Inf", operation=get) == 2
    assert 0 < value(scraped, seconds, f"{seconds}_sum", operation=get) < 2


def test_bot_attempts_scheduled_and_failed(client, credential):
    integration = integration_row(credential, 1, "active")
    meeting = Meeting.objects.create(
        integration=integration,
        remote_event_id=uuid.uuid4(),
        starts_at=timezone.now() + timedelta(hours=1),
        ends_at=timezone.now() + timedelta(hours=2),
        synced_at=timezone.now(),
    )
    attempts = (("policy", True), ("policy", True), ("schedule", False))
    with TestCase.captureOnCommitCallbacks(execute=True):  # counted as their work commits
        for action, succeeded in attempts:
            BotAttempt.objects.create(
                meeting=meeting,
                integration=integration,
                remote_event_id=meeting.remote_event_id,
                meeting_starts_at=meeting.starts_at,
                action=action,
                username="bot policy",
                succeeded=succeeded,
            )

    scraped = scrape(client)

    bots = "portal_bot_attempts"
    assert value(scraped, bots, f"{bots}_total", action="policy", outcome="succeeded") == 2
    assert value(scraped, bots, f"{bots}_total", action="schedule", outcome="failed") == 1


def test_consent_links_by_state(client, customer):
    now = timezone.now()
    links = [
        ConsentLink.objects.create(
            kind="connect",
            token_hash=hashlib.sha256(secrets.token_bytes(16)).hexdigest(),
            customer=customer,
            expires_at=fields.pop("expires_at", now + timedelta(days=7)),
            **fields,
        )
        for fields in ({}, {}, {}, {"used_at": now}, {"expires_at": now - timedelta(days=1)})
    ]
    assert revoke(links[2], acting_user=None)  # as staff revoke one

    scraped = scrape(client)

    states = {labels[0][1]: v for (_, labels), v in scraped["portal_consent_links"].items()}
    assert states == {"open": 2, "used": 1, "revoked": 1, "expired": 1}


def test_the_last_heartbeat(client, db):
    tasks.heartbeat()

    scraped = scrape(client)

    last = value(scraped, "portal_last_heartbeat_timestamp_seconds")
    assert abs(last - timezone.now().timestamp()) < 60
    assert len(scraped["portal_cluster_heartbeat_timestamp_seconds"]) == 1


def test_a_scrape_during_a_database_outage_is_a_plain_503(client, db, monkeypatch):
    from django.db import OperationalError

    from calendars.metrics import collector

    def unreachable():
        raise OperationalError("connection refused")

    monkeypatch.setattr(collector, "_integrations", unreachable)
    response = client.get("/metrics", headers=BEARER)

    assert response.status_code == 503
    assert b"database is unavailable" in response.content


def test_the_queue_in_all_and_per_group_on_either_broker(client, db, broker):
    ten_minutes_ago = timezone.now() - timedelta(minutes=10)
    with time_machine.travel(ten_minutes_ago, tick=False):
        enqueue("heartbeat", group="webhooks")
    enqueue("heartbeat", group="webhooks")
    enqueue("heartbeat", group="bots")
    try:
        scraped = scrape(client)
    finally:
        get_broker().purge_queue()

    assert value(scraped, "portal_broker_up") == 1
    assert value(scraped, "portal_queue_tasks") == 3
    assert value(scraped, "portal_queue_group_tasks", group="webhooks") == 2
    assert value(scraped, "portal_queue_group_tasks", group="bots") == 1
    webhooks = value(scraped, "portal_queue_group_oldest_task_age_seconds", group="webhooks")
    assert 600 <= webhooks < 660
    assert value(scraped, "portal_queue_group_oldest_task_age_seconds", group="bots") < 60
    assert value(scraped, "portal_queue_oldest_task_age_seconds") == webhooks


def test_an_unreachable_broker_is_said_and_the_rest_still_shown(client, db, monkeypatch):
    def unreachable(now):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(metrics_queue, "read", unreachable)

    scraped = scrape(client)

    assert value(scraped, "portal_broker_up") == 0
    assert "portal_queue_tasks" not in scraped
    assert "portal_integrations" in scraped


def add_rows(credential, first: int, count: int) -> None:
    """Rows of every kind /metrics reads: integrations (an error among them), webhook
    deliveries, bot attempts, consent links, heartbeats, queued tasks, counted totals."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        for n in range(first, first + count):
            integration = integration_row(
                credential, n, ("active", "error")[n % 2], "invalid_grant"
            )
            delivery = WebhookDelivery.objects.create(
                api_version=("v1", "v2")[n % 2],
                event="calendar.connection_updated",
                delivery_id=f"msg_{n}",
                payload={},
                sent_at=timezone.now(),
            )
            delivery.outcome, delivery.processed_at = "applied", timezone.now()
            delivery.save(update_fields=["outcome", "processed_at"])
            ConsentLink.objects.create(
                kind="connect",
                token_hash=f"{n:064x}",
                customer=credential.customer,
                expires_at=timezone.now() + timedelta(days=n % 3 - 1),
            )
            Heartbeat.objects.create(node=f"worker-{n}", seen_at=timezone.now())
            enqueue("heartbeat", group=f"group-{n}")
            totals.add(names.MEETINGBAAS_CALLS, {"operation": f"GET /op{n}", "outcome": "ok"})
            totals.observe(
                names.MEETINGBAAS_CALL_SECONDS,
                {"operation": f"GET /op{n}"},
                n / 10,
                names.CALL_BUCKETS,
            )
            assert integration.pk


def test_a_scrape_costs_the_same_queries_with_3_rows_as_with_30(client, credential, broker):
    def queries() -> int:
        totals.flush()
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/metrics", headers=BEARER).status_code == 200
        return len(captured)

    try:
        add_rows(credential, 0, 3)
        few = queries()
        add_rows(credential, 3, 27)
        many = queries()
    finally:
        get_broker().purge_queue()

    assert few == many
    assert many <= 12
