"""The portal under gunicorn, as the Procfile runs it (`-c python:portal.gunicorn`), in a
process of its own on a free port of this machine, its database the test's unless told
otherwise; `production` turns DEBUG off, with settings fit for a test (web_settings.py)."""

from __future__ import annotations

import contextlib
import os
import signal
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


class Web:
    def __init__(
        self, database: str | None = None, *, production: bool = False, **env: str
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop)
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DATABASE_URL": database or database_url(),
            "SECRET_KEY": settings.SECRET_KEY,
            "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
            "MEETINGBAAS_API_KEY": settings.MEETINGBAAS_API_KEY,
            "MEETINGBAAS_BASE_URL": settings.MEETINGBAAS_BASE_URL,
            "MEETINGBAAS_WEBHOOK_SECRET": ",".join(settings.MEETINGBAAS_WEBHOOK_SECRET),
            "PORT": str(self.port),
        }
        if production:
            environment |= {
                "DEBUG": "false",
                "DJANGO_SETTINGS_MODULE": "tests.support.web_settings",
                # The test's database may be SQLite.
                "ALLOW_SQLITE_IN_PRODUCTION": "true",
                "SECURE_SSL_REDIRECT": "false",
                "LOG_FORMAT": "plain",
            }
        command = [sys.executable, "-m", "gunicorn", "-c", "python:portal.gunicorn"]
        self.process = subprocess.Popen(  # noqa: S603 (the Procfile's own command)
            [*command, f"--bind=127.0.0.1:{self.port}", "portal.wsgi:application"],
            cwd=ROOT,
            env=environment | env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() ends its workers too
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            with contextlib.suppress(requests.RequestException):
                requests.get(f"{self.url}/healthz", timeout=10)
                return
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not start: {self.stop()[-3000:]}")

    def output(self) -> str:
        """What gunicorn and the portal printed so far."""
        fd = self._log.fileno()
        return os.pread(fd, os.fstat(fd).st_size, 0).decode(errors="replace")

    def stop(self) -> str:
        """Stop gunicorn and its workers; returns what they printed."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        output = self.output()
        self._log.close()
        return output


@contextlib.contextmanager
def gunicorn(**env: str) -> Iterator[Web]:
    web = Web(**env)
    try:
        yield web
    finally:
        web.stop()
