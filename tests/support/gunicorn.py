"""The portal under gunicorn, as the Procfile runs it, on a free port of this machine, pointed at
the test database (and the sandbox, when a test gives one)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import requests
from django.conf import settings

from tests.support.cluster import ROOT, database_url


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def gunicorn(*options: str, **env: str) -> Iterator[tuple[str, tempfile.TemporaryFile]]:
    """The portal's base URL while it runs, and the file its output goes to."""
    port = free_port()
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": database_url(),
        "SECRET_KEY": settings.SECRET_KEY,
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        "PORT": str(port),
        **env,
    }
    command = [sys.executable, "-m", "gunicorn", "-c", "python:portal.gunicorn", *options]
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(  # noqa: S603 (the Procfile's own command)
            [*command, "--bind", f"127.0.0.1:{port}", "portal.wsgi:application"],
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_it_answers(url, server)
            yield url, log
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def output_of(log: tempfile.TemporaryFile) -> str:
    log.flush()
    fd = log.fileno()
    return os.pread(fd, os.fstat(fd).st_size, 0).decode(errors="replace")


def _wait_until_it_answers(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("gunicorn exited before it answered")
        with contextlib.suppress(requests.ConnectionError, requests.Timeout):
            requests.get(f"{url}/healthz", timeout=10)
            return
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer within 30 s")
