"""A real django-q2 cluster process runs queued refreshes, on the ORM and the Redis broker."""

from __future__ import annotations

import os
import time
import uuid

import pytest
import redis
from django.utils import timezone
from django_q.conf import Conf

from calendars import operations, tasks
from calendars.models import Integration, RawCalendar
from tests.cluster import start_cluster, stop_cluster
from tests.conftest import require_service

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


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
    cluster = start_cluster(sandbox.url, **broker)
    try:
        tasks.enqueue_refresh([integration.pk])
        deadline = time.monotonic() + 60
        while (
            time.monotonic() < deadline
            and Integration.objects.get(pk=integration.pk).status != "active"
        ):
            time.sleep(0.25)
    finally:
        output = stop_cluster(cluster)

    assert Integration.objects.get(pk=integration.pk).status == "active", output[-3000:]
