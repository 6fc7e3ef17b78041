"""Several hosts: two django-q2 clusters as separate processes share one PostgreSQL (and Redis).

These tests need what several hosts need, a database served to many processes, so they run
in scripts/test's PostgreSQL pass.
"""

from __future__ import annotations

import time

import pytest
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone
from django_q.models import Schedule, Task

from calendars import queue
from calendars.actions import bulk
from calendars.models import BulkJob
from tests.support.cluster import kill_cluster, printed, start_cluster, stop_cluster
from tests.support.seeding import integrations_in_sandbox
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]

ITEMS = 400
HOSTS = ("host-a", "host-b")


@pytest.fixture(autouse=True)
def on_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("several hosts share a PostgreSQL database: scripts/test runs this there")


def test_two_clusters_share_a_bulk_job_and_finish_it_after_one_is_killed(
    broker, sandbox, customer, google_app, monkeypatch, settings
):
    state = sandbox.state
    integrations = integrations_in_sandbox(state, customer, google_app, ITEMS, status="active")
    state.settle_all()
    monkeypatch.setattr(state, "latency", 0.02)  # a job long enough to kill a host mid-way
    settings.BULK_LANES = 4
    env = {
        **broker,
        "Q_WORKERS": "2",
        "Q_TIMEOUT": "10",  # also how long a dead host's claim on an item holds
        "Q_RETRY": "20",
        "BULK_TASK_SECONDS": "3",
        "MEETINGBAAS_WRITE_RATE": "0",
    }
    clusters = {host: start_cluster(sandbox.url, NODE_NAME=host, **env) for host in HOSTS}
    try:
        # Both take tasks from the start, or the first one up could take every lane.
        assert wait_until(lambda: all(_running(c) for c in clusters.values()), 60)
        job = bulk.start(
            BulkJob.Kind.RESYNC,
            [i.pk for i in integrations],
            acting_user=None,
            description="scale-out",
        )

        def both_hosts_busy() -> bool:
            hosts = set(
                job.items.filter(state="done").values_list("worked_by", flat=True).distinct()
            )
            return hosts == set(HOSTS) and bulk.progress(job).done >= ITEMS // 4

        both_busy = wait_until(both_hosts_busy, 120)
        if both_busy:
            kill_cluster(clusters.pop("host-a"))
            killed_at = timezone.now()
            done_at_kill = bulk.progress(job).done
            finished = wait_until(lambda: bulk.progress(job).finished, 240)
    finally:
        output = "\n".join(stop_cluster(c) for c in clusters.values())

    by_host = dict(job.items.values_list("worked_by").annotate(n=Count("pk")))
    assert both_busy, f"the two clusters did not both take items: {by_host}\n{output[-3000:]}"
    assert finished, output[-3000:]
    result = bulk.progress(job)
    assert (result.done, result.failed) == (ITEMS, 0)
    assert done_at_kill < ITEMS, "host-a was killed after the job had finished"
    items = job.items.all()
    assert {host: items.filter(worked_by=host).count() > 0 for host in HOSTS} == dict.fromkeys(
        HOSTS, True
    )
    assert items.filter(worked_by="host-b", finished_at__gt=killed_at).exists()
    # Exactly once in effect: Meeting BaaS was asked once per calendar, except the items
    # host-a's two workers held when it died, which host-b did again (a resync is idempotent).
    resyncs = [state.connections[i.remote_id].resyncs for i in integrations]
    assert min(resyncs) == 1
    assert sum(n - 1 for n in resyncs) <= 2
    assert items.filter(attempts__gt=1).count() <= 2


# The lock that makes a schedule run once is the database's, whichever broker carries the task.
@pytest.mark.parametrize("broker", ["orm"], indirect=True)
def test_scheduled_work_runs_once_across_clusters(broker, sandbox):
    queue.ensure_schedules()
    names = set(Schedule.objects.values_list("name", flat=True))
    clusters = [start_cluster(sandbox.url, NODE_NAME=host, **broker) for host in HOSTS]
    try:
        # Hold every schedule row until both clusters' schedulers wait on it, then let them go
        # together: the closest race two hosts can run, made certain rather than left to timing.
        with transaction.atomic():
            list(Schedule.objects.select_for_update())
            Schedule.objects.update(next_run=timezone.now())
            both_waiting = wait_until(lambda: _schedulers_waiting() == len(HOSTS), 75)
        ran = wait_until(lambda: _runs(names).keys() == names, 30)
        time.sleep(3)  # time enough for a second run, were there to be one
    finally:
        output = "\n".join(stop_cluster(c) for c in clusters)

    assert both_waiting, output[-3000:]
    assert ran, output[-3000:]
    assert _runs(names) == dict.fromkeys(names, 1)


def _running(cluster) -> bool:
    return "running." in printed(cluster)


def _schedulers_waiting() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # see now, not the transaction's start
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND query LIKE %s",
            ["%django_q_schedule%"],
        )
        return cursor.fetchone()[0]


def _runs(names: set[str]) -> dict[str, int]:
    tasks_by_schedule = Task.objects.filter(group__in=names).values_list("group")
    return dict(tasks_by_schedule.annotate(n=Count("pk")).order_by())
