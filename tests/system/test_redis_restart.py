"""Redis restarted mid-job with its data lost: the sweeps find the lost work again.

The test starts a redis-server of its own (no persistence, a free port), a cluster on it, a bulk
job and a burst of webhook deliveries waiting in the queue; it kills that Redis and starts it
again empty while the job's lanes hand over to their successors, so both the queued deliveries
and the lanes are lost. The sweeps the schedules run ("Resume bulk jobs whose tasks were lost",
"Process webhook deliveries left pending") are queued as their schedules would queue them.
The shared Redis is never touched.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from django.db.models import F
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import Schedule

from calendars import queue
from calendars.actions import bulk
from calendars.actions.webhook_deliveries import LOST_AFTER
from calendars.models import BulkJob, Integration, WebhookDelivery
from tests.conftest import require_service
from tests.support.cluster import start_cluster, stop_cluster
from tests.support.outages import (
    REDIS_SERVER,
    ThrowawayRedis,
    connection_updates,
    doubled_effects,
    report,
)
from tests.support.seeding import integrations_in_sandbox
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]

ITEMS = 60
DELIVERIES = 200
RESTART_SECONDS = 4  # longer than BULK_TASK_SECONDS: every lane hands over while Redis is down


@pytest.fixture
def redis_server():
    installed = REDIS_SERVER is not None
    require_service(installed, "redis-server is not installed (apt-get install redis-server)")
    server = ThrowawayRedis()
    try:
        server.start()
        yield server
    finally:
        server.close()


def test_the_sweeps_find_the_work_a_restarted_redis_lost(
    redis_server, sandbox, customer, google_app, monkeypatch, settings
):
    name = f"portal-redis-{uuid.uuid4().hex[:8]}"
    for attribute, value in {
        "SYNC": False,
        "ORM": None,
        "REDIS": redis_server.url,
        "CLUSTER_NAME": name,
        "PREFIX": name,
    }.items():
        monkeypatch.setattr(Conf, attribute, value)
    Schedule.objects.all().delete()  # the test queues the sweeps when they are due
    state = sandbox.state
    made = integrations_in_sandbox(state, customer, google_app, ITEMS + 50, status="active")
    state.settle_all()
    integrations, announced = made[:ITEMS], made[ITEMS:]
    # Calendars never synced yet: an "active" webhook leaves them syncing, and queues nothing.
    Integration.objects.filter(pk__in=[i.pk for i in announced]).update(status="syncing")
    monkeypatch.setattr(state, "latency", 0.1)
    settings.BULK_LANES = 2
    cluster = start_cluster(
        sandbox.url,
        REDIS_URL=redis_server.url,
        Q_CLUSTER_NAME=name,
        Q_WORKERS="2",
        Q_TIMEOUT="10",
        Q_RETRY="15",  # a job silent this long has lost its lanes
        BULK_TASK_SECONDS="3",
        MEETINGBAAS_WRITE_RATE="0",
    )
    try:
        job = bulk.start(
            BulkJob.Kind.RESYNC, [i.pk for i in integrations], acting_user=None, description="redis"
        )
        assert wait_until(lambda: bulk.progress(job).done >= 5, 60), "the job never got going"
        # Both workers hold a lane: the deliveries wait in Redis.
        deliveries = _deliveries(announced)
        waiting = WebhookDelivery.objects.filter(outcome=WebhookDelivery.Outcome.PENDING)

        redis_server.kill()
        time.sleep(RESTART_SECONDS)
        redis_server.start()
        restarted = time.monotonic()
        pending_at_restart = waiting.count()
        stalled = wait_until(lambda: _silent_for(job) > 3, 30, 0.2)
        done_when_stalled = bulk.progress(job).done

        # The schedules' sweeps, queued when due: the bulk sweep every 2 s (every 2 minutes in
        # production) until the job's lanes are back; the deliveries as LOST_AFTER later.
        WebhookDelivery.objects.update(received_at=F("received_at") - LOST_AFTER)
        queue.enqueue("sweep_pending_webhooks", group="sweep")
        webhooks_back = wait_until(lambda: not waiting.exists(), 60, 0.2)
        webhooks_took = time.monotonic() - restarted

        def resumed() -> bool:
            queue.enqueue("sweep_bulk_jobs", group="sweep")
            return bulk.progress(job).finished or wait_until(
                lambda: bulk.progress(job).finished, 2, 0.2
            )

        job_back = wait_until(resumed, 90, 0)
        job_took = time.monotonic() - restarted
    finally:
        output = stop_cluster(cluster)

    assert pending_at_restart > 0, "no delivery was waiting in Redis when it restarted"
    assert stalled, "the job's lanes were not lost"
    assert done_when_stalled < ITEMS
    assert webhooks_back, output[-3000:]
    outcomes = set(WebhookDelivery.objects.values_list("outcome", flat=True))
    assert outcomes <= {"applied", "stale"}, outcomes  # the sweep takes the newest first
    assert job_back, output[-3000:]
    result = bulk.progress(job)
    assert (result.done, result.failed) == (ITEMS, 0)
    resyncs = [state.connections[i.remote_id].resyncs for i in integrations]
    assert min(resyncs) == 1
    assert sum(n - 1 for n in resyncs) <= 2  # the items the two lanes held, at most
    report(
        f"Redis restarted, data lost ({RESTART_SECONDS} s down)",
        f"{ITEMS}-item bulk job (2 lanes) and {len(deliveries)} webhook deliveries "
        f"({pending_at_restart} still pending at the restart)",
        lost=ITEMS - result.done + waiting.count(),
        duplicates=doubled_effects(resyncs),
        recovery=(
            f"deliveries {webhooks_took:.1f} s, job {job_took:.1f} s after the restart "
            f"(job silent for Q_RETRY = 15 s first; sweeps queued when due)"
        ),
    )


def _deliveries(integrations) -> list[WebhookDelivery]:
    return connection_updates(
        integrations, DELIVERIES, sent_at=timezone.now() - timedelta(seconds=30)
    )


def _silent_for(job: BulkJob) -> float:
    job.refresh_from_db(fields=["active_at"])
    return (timezone.now() - job.active_at).total_seconds()
