"""GET /healthz: database, broker, a live cluster, a moving queue, a recent refresh."""

from __future__ import annotations

from datetime import timedelta

from cryptography.fernet import Fernet
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ

from calendars import tasks
from calendars.models import RefreshRun
from tests.system.test_settings import run_with_settings

TOKEN = "healthz-token-for-the-monitoring"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
DETAILS = ("engine", "kind", "node", "error", "queued")


def test_a_portal_with_a_live_cluster_is_healthy(client, db):
    tasks.heartbeat()

    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert set(body["checks"]) == {"database", "broker", "cluster", "queue", "refresh"}
    assert body["checks"]["cluster"]["last_seen_seconds"] < 5


def test_no_cluster_seen_is_unhealthy(client, db, settings):
    settings.HEALTHZ_TOKEN = TOKEN
    response = client.get("/healthz", headers=BEARER)

    assert response.status_code == 503
    assert "no django-q2 cluster" in response.json()["checks"]["cluster"]["error"]


def test_a_stalled_queue_is_unhealthy(client, db):
    tasks.heartbeat()
    # The ORM broker stamps a waiting task's lock with the time it was queued.
    queued_at = timezone.now() - timedelta(seconds=Conf.RETRY + 60)
    OrmQ.objects.create(key=Conf.CLUSTER_NAME, payload="x", lock=queued_at)
    # A task a worker has taken carries its lock in the future: not waiting.
    OrmQ.objects.create(key=Conf.CLUSTER_NAME, payload="y", lock=timezone.now() + timedelta(60))

    response = client.get("/healthz")

    assert response.status_code == 503
    oldest = response.json()["checks"]["queue"]["oldest_queued_seconds"]
    assert Conf.RETRY + 60 <= oldest < Conf.RETRY + 120


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


def test_without_the_token_only_verdicts_and_ages_are_shown(client, db, settings):
    settings.HEALTHZ_TOKEN = TOKEN
    tasks.heartbeat()
    OrmQ.objects.create(key=Conf.CLUSTER_NAME, payload="x", lock=timezone.now())

    for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": TOKEN}):
        body = client.get("/healthz", headers=headers).json()

        assert body["checks"]["cluster"]["last_seen_seconds"] < 5
        shown = {key for check in body["checks"].values() for key in check}
        assert shown <= {"ok", "last_seen_seconds", "oldest_queued_seconds", "last_success_seconds"}


def test_with_the_token_the_details_are_shown(client, db, settings):
    settings.HEALTHZ_TOKEN = TOKEN
    tasks.heartbeat()

    checks = client.get("/healthz", headers=BEARER).json()["checks"]

    assert checks["database"]["engine"] and checks["broker"]["kind"] == "database"
    assert checks["cluster"]["node"] == settings.NODE_NAME


def test_no_token_configured_means_no_one_sees_the_details(client, db, settings):
    settings.HEALTHZ_TOKEN = ""

    body = client.get("/healthz", headers={"Authorization": "Bearer "}).json()

    assert "error" not in body["checks"]["cluster"]


def test_in_production_a_plain_http_probe_gets_an_answer_not_a_redirect(tmp_path):
    # The production settings as a deployment without TRUST_X_FORWARDED_PROTO has them; the
    # database has no tables, so the answer is 503 naming no exception.
    probe = (
        "import django; django.setup(); from django.test import Client; c = Client(); "
        "r = c.get('/healthz'); print(r.status_code, r.content.decode()); "
        "print(c.get('/admin/').status_code)"
    )
    result = run_with_settings(
        probe,
        DEBUG="false",
        DJANGO_SETTINGS_MODULE="portal.settings",
        PORTAL_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'empty.sqlite3'}",
        ALLOW_SQLITE_IN_PRODUCTION="true",
        SECRET_KEY="x" * 50,
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        MEETINGBAAS_API_KEY="live-key",
        ALLOWED_HOSTS="testserver",
        LOG_LEVEL="CRITICAL",
    )

    assert result.returncode == 0, result.stderr
    healthz, admin = result.stdout.splitlines()
    assert healthz.startswith("503 ")
    assert "OperationalError" not in healthz and "sqlite" not in healthz
    assert admin == "301"  # everything else still goes to HTTPS
