"""A reconciliation run by a real django-q2 cluster that is killed (SIGKILL, as a host dying)
twice along the way still finishes, with exactly the findings the data set holds, each once.

The data set is the benchmark's (bench/reconciliation.py) at 1,000 connections: one v1 page,
four v2 pages, 5 orphans, 5 ghosts and 10 drifted statuses; the sandbox answers slowly enough
for a kill to land mid-run, and the cluster's tasks last a second each.
"""

from __future__ import annotations

import uuid

import pytest
from django_q.models import Schedule

from bench.reconciliation import as_built, plan, seed_portal, seed_sandbox
from calendars.actions import reconciliation
from calendars.models import Reconciliation, ReconciliationListed
from tests.support.cluster import enqueue_onto, kill_cluster, start_cluster, stop_cluster
from tests.support.waiting import wait_until

SIZES = plan(1000)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_reconciliation_survives_its_cluster_being_killed_twice(sandbox, monkeypatch):
    seed_sandbox(sandbox.state, SIZES)
    seed_portal(SIZES)
    monkeypatch.setattr(sandbox.state, "latency", 0.2)
    Schedule.objects.all().delete()  # no daily run or refresh beside the one under test
    env = {
        "Q_CLUSTER_NAME": f"portal-rec-{uuid.uuid4().hex[:8]}",
        "Q_TIMEOUT": "4",
        # A killed task is delivered again after this long.
        "Q_RETRY": "5",
        "BULK_TASK_SECONDS": "1",
    }
    cluster = start_cluster(sandbox.url, **env)
    unfinished_at_kill = []
    try:
        with enqueue_onto(env["Q_CLUSTER_NAME"]):
            run = reconciliation.start(acting_user=None)

            def listed() -> int:
                return Reconciliation.objects.get(pk=run.pk).listed

            for mark in (260, 510):  # after v1's page and v2's first; after v2's second
                assert wait_until(lambda mark=mark: listed() >= mark, 60), "never got going"
                kill_cluster(cluster)
                unfinished_at_kill.append(Reconciliation.objects.get(pk=run.pk).finished_at is None)
                cluster = start_cluster(sandbox.url, **env)
            finished = wait_until(
                lambda: Reconciliation.objects.get(pk=run.pk).finished_at is not None, 60
            )
    finally:
        output = stop_cluster(cluster)

    assert finished, output[-3000:]
    run = Reconciliation.objects.get(pk=run.pk)
    assert unfinished_at_kill == [True, True], "the run had finished before a kill"
    assert run.succeeded, run.error
    assert run.tasks >= 3
    assert (run.listed, run.orphans, run.ghosts, run.drift) == (1000, 5, 5, 10)
    assert all(as_built(run, SIZES).values()), as_built(run, SIZES)
    assert not ReconciliationListed.objects.exists()
