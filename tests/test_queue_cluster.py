"""A real django-q2 cluster process runs queued refreshes, on the ORM and the Redis broker."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections import Counter
from contextlib import contextmanager

import pytest
import redis
from django.utils import timezone
from django_q.conf import Conf

from calendars import bulk, operations, tasks
from calendars.models import BulkJob, Integration, RawCalendar
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


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_bulk_job_survives_its_worker_being_killed(sandbox, make_integration):
    integrations = [make_integration(p) for p in _calendar_ids()]
    sandbox.fault("POST", "/v2/calendars/.+/sync", "slow", delay=0.8, count=100)
    env = {
        "Q_CLUSTER_NAME": f"portal-kill-{uuid.uuid4().hex[:8]}",
        "Q_TIMEOUT": "5",
        "Q_RETRY": "7",
        "BULK_TASK_SECONDS": "3",
    }
    first = start_cluster(sandbox.url, **env)
    with override_conf(env["Q_CLUSTER_NAME"]):
        job = bulk.start(
            BulkJob.Kind.RESYNC, [i.pk for i in integrations], user=None, description="kill test"
        )
        assert _wait(lambda: bulk.progress(job).done >= 2, 30), "the first cluster never got going"
        os.killpg(first.pid, signal.SIGKILL)  # the whole cluster: sentinel, workers, monitor
        first.wait()
        second = start_cluster(sandbox.url, **env)
        try:
            finished = _wait(lambda: bulk.progress(job).finished, 60)
        finally:
            output = stop_cluster(second)

    assert finished, output[-3000:]
    result = bulk.progress(job)
    assert (result.done, result.failed) == (len(integrations), 0)
    syncs = Counter(
        r["path"]
        for r in sandbox.requests_to("POST", "/v2/calendars/")
        if r["path"].endswith("/sync")
    )
    assert set(syncs) == {f"/v2/calendars/{i.remote_id}/sync" for i in integrations}
    # Only the item in hand when the worker died may have been sent twice (a resync is idempotent).
    assert sum(n - 1 for n in syncs.values()) <= 1


def _calendar_ids() -> list[str]:
    return [
        "alice@example.com",
        "alice.team@group.calendar.google.com",
        "alice.oncall@group.calendar.google.com",
    ]


def _wait(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


@contextmanager
def override_conf(name: str):
    """Enqueue for real, onto the named cluster's queue."""
    saved = (Conf.SYNC, Conf.CLUSTER_NAME, Conf.PREFIX)
    Conf.SYNC, Conf.CLUSTER_NAME, Conf.PREFIX = False, name, name
    try:
        yield
    finally:
        Conf.SYNC, Conf.CLUSTER_NAME, Conf.PREFIX = saved
