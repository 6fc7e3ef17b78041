"""A cluster stops within Q_TIMEOUT, its running task done, whether its main process alone or its
whole process group is sent SIGTERM (as systemd's default KillMode, honcho and
`kill -TERM -- -PGID` do)."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from calendars import queue
from tests.support.cluster import start_cluster, stop_cluster
from tests.support.waiting import wait_until

Q_TIMEOUT = 10


@pytest.mark.slow
@pytest.mark.once  # how a cluster stops does not depend on the database engine
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("broker", ["redis"], indirect=True)
@pytest.mark.parametrize("signalled", ["group", "main"])
def test_a_signalled_cluster_finishes_its_task_and_exits(
    broker, sandbox, make_integration, signalled
):
    integration = make_integration("alice@example.com")
    time.sleep(0.35)  # the sandbox's sync is over: a refresh finds the calendar active
    sandbox.fault("GET", f"/v2/calendars/{integration.remote_id}", "slow", delay=2.0, count=1)
    env = {"Q_TIMEOUT": str(Q_TIMEOUT), "Q_RETRY": str(Q_TIMEOUT + 2), "BULK_TASK_SECONDS": "5"}
    cluster = start_cluster(sandbox.url, **broker, **env)
    try:
        queue.enqueue("refresh_integration", integration.pk, group="refresh")
        assert wait_until(
            lambda: sandbox.requests_to("GET", f"/v2/calendars/{integration.remote_id}"), 30
        ), "the worker never started the refresh"

        started = time.monotonic()
        if signalled == "group":
            os.killpg(cluster.pid, signal.SIGTERM)
        else:
            cluster.send_signal(signal.SIGTERM)
        cluster.wait(timeout=Q_TIMEOUT)
        took = time.monotonic() - started
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running {Q_TIMEOUT} s after SIGTERM to its {signalled}")
    finally:
        output = stop_cluster(cluster)

    assert cluster.returncode == 0, output[-3000:]
    assert "has stopped" in output, output[-3000:]
    with pytest.raises(ProcessLookupError):
        os.killpg(cluster.pid, 0)  # nothing of the cluster is left, not even a zombie
    # The refresh in hand when the signal came was finished, not cut short.
    integration.refresh_from_db()
    assert integration.status == "active"
    assert took >= 1, "the cluster did not wait for its running task"
