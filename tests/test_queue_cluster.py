"""A real django-q2 cluster process runs queued refreshes, on the ORM and the Redis broker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_q.conf import Conf

from calendars import operations, tasks
from calendars.models import Integration, RawCalendar
from tests.conftest import require_service

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{host}/{db['NAME']}"


def redis_available() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(params=["orm", "redis"])
def broker(request, monkeypatch) -> dict[str, str]:
    name = f"portal-test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(Conf, "SYNC", False)
    monkeypatch.setattr(Conf, "CLUSTER_NAME", name)
    monkeypatch.setattr(Conf, "PREFIX", name)
    env = {"Q_CLUSTER_NAME": name}
    if request.param == "redis":
        require_service(redis_available(), f"Redis is not reachable at {REDIS_URL}")
        monkeypatch.setattr(Conf, "ORM", None)
        monkeypatch.setattr(Conf, "REDIS", REDIS_URL)
        env["REDIS_URL"] = REDIS_URL
    return env


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_cluster_process_runs_a_queued_refresh(broker, sandbox, credential):
    raw = RawCalendar.objects.create(
        credential=credential, provider_id="alice@example.com", listed_at=timezone.now()
    )
    integration = operations.create_integration(raw).integration
    time.sleep(0.35)
    env = {
        **os.environ,
        **broker,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": database_url(),
        "MEETINGBAAS_BASE_URL": sandbox.url,
        "MEETINGBAAS_API_KEY": "test-key",
        "SECRET_KEY": settings.SECRET_KEY,
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        "Q_WORKERS": "1",
    }
    cluster = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        tasks.enqueue_refresh([integration.pk])
        deadline = time.monotonic() + 60
        while (
            time.monotonic() < deadline
            and Integration.objects.get(pk=integration.pk).status != "active"
        ):
            time.sleep(0.25)
    finally:
        cluster.terminate()
        output = cluster.communicate(timeout=30)[0].decode(errors="replace")

    assert Integration.objects.get(pk=integration.pk).status == "active", output[-3000:]
