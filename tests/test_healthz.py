"""GET /healthz: database, broker, a live cluster, a moving queue, a recent refresh."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ

from calendars import tasks
from calendars.models import RefreshRun


def test_a_portal_with_a_live_cluster_is_healthy(client, db):
    tasks.heartbeat()

    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert set(body["checks"]) == {"database", "broker", "cluster", "queue", "refresh"}
    assert body["checks"]["cluster"]["last_seen_seconds"] < 5


def test_no_cluster_seen_is_unhealthy(client, db):
    response = client.get("/healthz")

    assert response.status_code == 503
    assert "no django-q2 cluster" in response.json()["checks"]["cluster"]["error"]


def test_a_stalled_queue_is_unhealthy(client, db):
    tasks.heartbeat()
    long_ago = timezone.now() - timedelta(seconds=3 * Conf.RETRY)
    OrmQ.objects.create(key=Conf.CLUSTER_NAME, payload="x", lock=long_ago)

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"]["queue"]["oldest_queued_seconds"] >= 2 * Conf.RETRY


def test_a_refresh_that_stopped_succeeding_is_unhealthy(client, db, settings):
    tasks.heartbeat()
    started = timezone.now() - timedelta(minutes=3 * settings.STATUS_REFRESH_MINUTES)
    RefreshRun.objects.create(api_version="v2", started_at=started, succeeded=True)

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"]["refresh"]["ok"] is False


def test_it_needs_no_login_and_shows_no_secret(client, db, settings):
    tasks.heartbeat()

    text = client.get("/healthz").content.decode()

    assert settings.MEETINGBAAS_API_KEY not in text and settings.SECRET_KEY not in text
