"""Start real django-q2 cluster processes against the test database, and queue work for them."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection
from django_q.conf import Conf

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_available() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{host}/{db['NAME']}"


def start_cluster(sandbox_url: str, **env: str) -> subprocess.Popen:
    """`manage.py qcluster` with the portal's settings, pointed at the test database and sandbox."""
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": database_url(),
        "MEETINGBAAS_BASE_URL": sandbox_url,
        "MEETINGBAAS_API_KEY": "test-key",
        "MEETINGBAAS_WEBHOOK_SECRET": ",".join(settings.MEETINGBAAS_WEBHOOK_SECRET),
        "SECRET_KEY": settings.SECRET_KEY,
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        "Q_WORKERS": "1",
        **env,
    }
    # Output goes to a file: a pipe nobody reads until the end fills up and blocks the cluster.
    log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the cluster; closed on stop)
    cluster = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so a test can kill the whole cluster
    )
    cluster.log = log
    return cluster


def printed(cluster: subprocess.Popen) -> str:
    """What the cluster has printed so far (pread: the file offset is shared with the cluster)."""
    fd = cluster.log.fileno()
    return os.pread(fd, os.fstat(fd).st_size, 0).decode(errors="replace")


def stop_cluster(cluster: subprocess.Popen) -> str:
    """Stop the cluster and everything it started; returns what it printed."""
    cluster.terminate()
    try:
        cluster.wait(timeout=30)
    except subprocess.TimeoutExpired:
        cluster.kill()
        cluster.wait()
    # Reap any worker the cluster left behind: nothing may outlive the test that started it.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(cluster.pid, signal.SIGKILL)
    cluster.log.seek(0)
    output = cluster.log.read().decode(errors="replace")
    cluster.log.close()
    return output


def kill_cluster(cluster: subprocess.Popen) -> None:
    """SIGKILL the whole cluster (sentinel, pusher, workers, monitor), as a host dying would."""
    os.killpg(cluster.pid, signal.SIGKILL)
    cluster.wait()
    cluster.log.close()


@contextlib.contextmanager
def enqueue_onto(name: str) -> Iterator[None]:
    """Queue tasks for real, onto the named cluster's queue (tests otherwise run them inline)."""
    saved = (Conf.SYNC, Conf.CLUSTER_NAME, Conf.PREFIX)
    Conf.SYNC, Conf.CLUSTER_NAME, Conf.PREFIX = False, name, name
    try:
        yield
    finally:
        Conf.SYNC, Conf.CLUSTER_NAME, Conf.PREFIX = saved
