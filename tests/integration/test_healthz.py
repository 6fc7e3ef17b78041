"""The health probes: /healthz/live, /healthz/ready (the web host's verdict: its database), and
/healthz with every check (database, broker, a live cluster, a moving queue, a recent refresh)."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from cryptography.fernet import Fernet
from django.db import OperationalError
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ

from calendars import tasks
from calendars.models import RefreshRun
from calendars.web import health
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


def test_no_cluster_seen_is_shown_but_leaves_the_web_host_serving(client, db, settings):
    # A fresh start (no heartbeat yet) or a worker outage: the web hosts, and the webhook
    # receiver with them, stay in the load balancer's rotation.
    settings.HEALTHZ_TOKEN = TOKEN
    response = client.get("/healthz", headers=BEARER)

    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert body["checks"]["cluster"]["ok"] is False
    assert "no django-q2 cluster" in body["checks"]["cluster"]["error"]
    assert client.get("/healthz/ready").status_code == 200


def test_a_stalled_queue_is_shown_not_failed(client, db):
    tasks.heartbeat()
    # The ORM broker stamps a waiting task's lock with the time it was queued.
    queued_at = timezone.now() - timedelta(seconds=Conf.RETRY + 60)
    OrmQ.objects.create(key=Conf.CLUSTER_NAME, payload="x", lock=queued_at)
    # A task a worker has taken carries its lock in the future: not waiting.
    OrmQ.objects.create(key=Conf.CLUSTER_NAME, payload="y", lock=timezone.now() + timedelta(60))

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["checks"]["queue"]["ok"] is False
    oldest = response.json()["checks"]["queue"]["oldest_queued_seconds"]
    assert Conf.RETRY + 60 <= oldest < Conf.RETRY + 120


def test_a_refresh_that_stopped_succeeding_is_shown_not_failed(client, db, settings):
    tasks.heartbeat()
    started = timezone.now() - timedelta(minutes=3 * settings.STATUS_REFRESH_MINUTES)
    RefreshRun.objects.create(api_version="v2", started_at=started, succeeded=True)

    response = client.get("/healthz")

    assert response.status_code == 200
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
    settings.NODE_NAME = "web-2"
    tasks.heartbeat()

    body = client.get("/healthz", headers=BEARER).json()

    checks = body["checks"]
    assert checks["database"]["engine"] and checks["broker"]["kind"] == "database"
    assert checks["cluster"]["node"] == "web-2"  # the heartbeat ran in this process
    assert body["node"] == "web-2"  # the web host that answered
    assert "node" not in client.get("/healthz").json()


def test_live_answers_without_touching_the_database(client):
    # No `db` fixture: any query would fail the test.
    response = client.get("/healthz/live")

    assert response.status_code == 200
    assert response.json() == {"ok": True}


def test_ready_answers_from_the_database_alone(client, db):
    response = client.get("/healthz/ready")

    assert response.status_code == 200
    assert response.json() == {"ok": True, "checks": {"database": {"ok": True}}}


def test_ready_fails_without_the_database_and_logs_no_error_per_probe(
    client, db, monkeypatch, caplog
):
    monkeypatch.setattr(health, "connection", SimpleNamespace(cursor=_gone, vendor="postgresql"))

    for path in ("/healthz/ready", "/healthz", "/healthz/"):
        response = client.get(path)

        assert response.status_code == 503, path
        assert response.json()["checks"]["database"]["ok"] is False
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


def test_healthz_with_a_slash_answers_as_without(client, db):
    tasks.heartbeat()

    assert client.get("/healthz/").json() == client.get("/healthz").json()


def test_no_token_configured_means_no_one_sees_the_details(client, db, settings):
    settings.HEALTHZ_TOKEN = ""

    body = client.get("/healthz", headers={"Authorization": "Bearer "}).json()

    assert "error" not in body["checks"]["cluster"]


def test_in_production_a_plain_http_probe_gets_an_answer_not_a_redirect(tmp_path):
    # The production settings as a deployment without TRUST_X_FORWARDED_PROTO has them; the
    # database answers but has no tables, so the queue's checks fail naming no exception.
    probe = (
        "import django; django.setup(); from django.test import Client; c = Client(); "
        "r = c.get('/healthz'); print(r.status_code, r.content.decode()); "
        "print(c.get('/healthz/ready').status_code, c.get('/healthz/live').status_code); "
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
    healthz, probes, admin = result.stdout.splitlines()
    assert healthz.startswith("200 ") and '"cluster": {"ok": false}' in healthz
    assert probes == "200 200"
    assert "OperationalError" not in healthz and "sqlite" not in healthz
    assert admin == "301"  # everything else still goes to HTTPS


def _gone(*args, **kwargs):
    raise OperationalError('connection to server at "127.0.0.1", port 5432 failed')
