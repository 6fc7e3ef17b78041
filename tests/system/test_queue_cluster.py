"""A real django-q2 cluster process runs queued refreshes, on the ORM and the Redis broker."""

from __future__ import annotations

import time
import uuid
from collections import Counter

import pytest
from django.utils import timezone

from calendars import queue
from calendars.actions import bulk
from calendars.actions.integrations import create_integration
from calendars.models import BulkJob, Integration, RawCalendar
from tests.support.cluster import enqueue_onto, kill_cluster, start_cluster, stop_cluster
from tests.support.waiting import wait_until


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_cluster_process_runs_a_queued_refresh(broker, sandbox, credential):
    raw = RawCalendar.objects.create(
        credential=credential, provider_id="alice@example.com", listed_at=timezone.now()
    )
    integration = create_integration(raw).integration
    time.sleep(0.35)
    cluster = start_cluster(sandbox.url, **broker)
    try:
        queue.enqueue("refresh_integration", integration.pk, group="refresh")
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
    with enqueue_onto(env["Q_CLUSTER_NAME"]):
        job = bulk.start(
            BulkJob.Kind.RESYNC,
            [i.pk for i in integrations],
            acting_user=None,
            description="kill test",
        )
        assert wait_until(lambda: bulk.progress(job).done >= 2, 30), "the cluster never got going"
        kill_cluster(first)
        second = start_cluster(sandbox.url, **env)
        try:
            finished = wait_until(lambda: bulk.progress(job).finished, 60)
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
