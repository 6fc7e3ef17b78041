"""Start a real django-q2 cluster process against the test database."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


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
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so a test can kill the whole cluster
    )


def stop_cluster(cluster: subprocess.Popen) -> str:
    cluster.terminate()
    try:
        output = cluster.communicate(timeout=30)[0]
    except subprocess.TimeoutExpired:
        cluster.kill()
        output = cluster.communicate()[0]
    # Reap any worker the cluster left behind: nothing may outlive the test that started it.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(cluster.pid, signal.SIGKILL)
    return output.decode(errors="replace")
