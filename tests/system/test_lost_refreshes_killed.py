"""A worker killed during "Refresh status" on Redis: the refreshes it took are lost (Redis never
delivers them again); their rows keep their old time, the sweep queues them again, counts them on
the home page, and another cluster refreshes them."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from calendars.actions import lost_refreshes
from calendars.actions.refresh import queue_refresh
from calendars.models import ActionRecord, Integration
from tests.support.cluster import kill_cluster, start_cluster, stop_cluster
from tests.support.waiting import wait_until

CALENDARS = (
    "alice@example.com",
    "alice.team@group.calendar.google.com",
    "alice.oncall@group.calendar.google.com",
)
Q_RETRY = 10


@pytest.mark.slow
@pytest.mark.once  # the broker loses the tasks, whatever the database engine
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("broker", ["redis"], indirect=True)
def test_refreshes_a_killed_worker_lost_are_shown_and_done_again(
    broker, sandbox, make_integration, admin_client, settings
):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "retry": Q_RETRY}
    integrations = [make_integration(c) for c in CALENDARS]
    time.sleep(0.35)  # the sandbox's syncs are over
    long_ago = timezone.now() - timedelta(hours=1)
    Integration.objects.update(last_refreshed_at=long_ago)
    sandbox.fault("GET", "/v2/calendars/.+", "slow", delay=1.0, count=100)
    env = {**broker, "Q_TIMEOUT": "5", "Q_RETRY": str(Q_RETRY), "BULK_TASK_SECONDS": "3"}

    asked_at = timezone.now()
    queue_refresh(integrations, acting_user=None)
    first = start_cluster(sandbox.url, **env)
    assert wait_until(lambda: sandbox.requests_to("GET", "/v2/calendars/"), 30)
    kill_cluster(first)  # in the middle of a refresh
    second = start_cluster(sandbox.url, **env)
    try:
        # Past Q_RETRY, whatever the second cluster could take from Redis it has done.
        waited = asked_at + timedelta(seconds=Q_RETRY + 1) - timezone.now()
        time.sleep(max(0.0, waited.total_seconds()))
        lost = set(
            Integration.objects.filter(last_refreshed_at=long_ago).values_list("pk", flat=True)
        )
        assert lost, "the killed worker lost no refresh"

        swept = lost_refreshes.sweep()

        home = admin_client.get(reverse("admin:index")).content.decode()
        refreshed = wait_until(
            lambda: not Integration.objects.filter(last_refreshed_at__lt=asked_at).exists(), 30
        )
    finally:
        output = stop_cluster(second)

    assert swept == lost_refreshes.Swept(requeued=len(lost)), output[-3000:]
    assert f"{len(lost)} queued again" in home
    queued_again = ActionRecord.objects.filter(message=lost_refreshes.REQUEUED)
    assert set(queued_again.values_list("integration_id", flat=True)) == lost
    assert refreshed, output[-3000:]
