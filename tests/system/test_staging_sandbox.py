"""Staging: the sandbox on its own (`python -m sandbox`: no Django, no DEBUG) beside a portal in
production configuration (DEBUG off, the HTTPS redirect on) behind a TLS-terminating proxy.

Its webhooks go where Meeting BaaS's would, to PORTAL_PUBLIC_URL through the proxy, signed with
the secret it was given: the portal takes them and a new integration becomes active by them.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet
from django.utils import timezone

from calendars.actions.integrations import create_integration
from calendars.models import Integration, RawCalendar, StatusChange, WebhookDelivery
from tests.support.cluster import ROOT, start_cluster, stop_cluster
from tests.support.gunicorn import free_port, gunicorn
from tests.support.tls_proxy import TlsProxy
from tests.support.waiting import wait_until
from tests.system.test_settings import POSTGRES, run_with_settings

# The standalone sandbox, its webhooks and the TLS proxy do not depend on the database engine.
pytestmark = [pytest.mark.once, pytest.mark.django_db(transaction=True)]

SECRET = "whsec_c3RhZ2luZy1zZWNyZXQtb2YtdGhpcy10ZXN0"
API_KEY = "staging-sandbox-key"
# The sandbox's own start-up is all it needs: nothing Django, nothing of the portal's.
NOT_FOR_THE_SANDBOX = ("DEBUG", "DJANGO_SETTINGS_MODULE", "SANDBOX_WEBHOOK_URL")


@contextlib.contextmanager
def standalone_sandbox(port: int, **env: str) -> Iterator[subprocess.Popen]:
    base = {k: v for k, v in os.environ.items() if k not in NOT_FOR_THE_SANDBOX}
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed below)
    process = subprocess.Popen(  # noqa: S603 (the README's own command)
        [sys.executable, "-m", "sandbox", "--port", str(port), "--sync-delay", "0.5"],
        cwd=ROOT,
        env=base | env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while process.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                break
            time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.seek(0)
        output = log.read().decode(errors="replace")
        log.close()
        assert "Traceback" not in output, output[-3000:]


def test_the_standalone_sandbox_s_webhooks_activate_an_integration_in_production(
    tmp_path, credential, settings
):
    sandbox_port = free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    # The staging portal's environment: production, but for USE_SANDBOX and its settings.
    staging = {
        "DEBUG": "false",
        "USE_SANDBOX": "true",
        "SANDBOX_PORT": str(sandbox_port),
        "SANDBOX_API_KEY": API_KEY,
        "MEETINGBAAS_BASE_URL": sandbox_url,
        "MEETINGBAAS_WEBHOOK_SECRET": SECRET,
        "ALLOW_SQLITE_IN_PRODUCTION": "true",
    }
    with gunicorn(
        production=True,
        SECURE_SSL_REDIRECT="true",
        TRUST_X_FORWARDED_PROTO="true",
        ALLOWED_HOSTS="localhost",
        **staging,
    ) as web:
        proxy = TlsProxy(web.port, tmp_path)
        cluster = start_cluster(sandbox_url, **staging)
        try:
            with standalone_sandbox(
                sandbox_port,
                SANDBOX_API_KEY=API_KEY,
                SANDBOX_WEBHOOK_SECRET=SECRET,
                PORTAL_PUBLIC_URL=proxy.url,
                SSL_CERT_FILE=str(proxy.cert_file),  # the proxy's certificate, trusted
            ):
                settings.MEETINGBAAS_BASE_URL = sandbox_url
                settings.MEETINGBAAS_API_KEY = API_KEY
                raw = RawCalendar.objects.create(
                    credential=credential,
                    provider_id="alice@example.com",
                    name="Alice",
                    listed_at=timezone.now(),
                )
                integration = create_integration(raw).integration
                assert integration.status == "syncing"

                became_active = wait_until(
                    lambda: Integration.objects.get(pk=integration.pk).status == "active", 30
                )
        finally:
            cluster_output = stop_cluster(cluster)
            proxy.stop()
        web_output = web.output()

    assert became_active, web_output[-3000:] + cluster_output[-3000:]
    activated = StatusChange.objects.get(integration=integration, to_status="active")
    assert activated.cause == "webhook"
    assert WebhookDelivery.objects.filter(event="calendar.connection_created").exists()
    assert "webhook rejected" not in web_output


def test_the_standalone_sandbox_will_not_send_webhooks_without_a_secret_given():
    base = {k: v for k, v in os.environ.items() if k not in NOT_FOR_THE_SANDBOX}
    base.pop("SANDBOX_WEBHOOK_SECRET", None)
    result = subprocess.run(  # noqa: S603 (the README's own command)
        [sys.executable, "-m", "sandbox", "--port", str(free_port())],
        cwd=ROOT,
        env=base | {"PORTAL_PUBLIC_URL": "https://portal.example.com"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode == 2
    assert (
        "SANDBOX_WEBHOOK_SECRET is not set: webhooks to "
        "https://portal.example.com/webhooks/meetingbaas/ would be refused"
    ) in result.stderr


def test_use_sandbox_points_a_production_portal_at_it_with_its_key_and_no_public_secret(tmp_path):
    result = run_with_settings(
        "from portal import settings as s; print(s.DEBUG, s.MEETINGBAAS_BASE_URL, "
        "s.MEETINGBAAS_API_KEY, s.GOOGLE_OAUTH_TOKEN_URL, s.MEETINGBAAS_WEBHOOK_SECRET)",
        DEBUG="false",
        USE_SANDBOX="true",
        SANDBOX_PORT="9876",
        SANDBOX_API_KEY=API_KEY,
        MEETINGBAAS_API_KEY="the-real-live-key",
        SECRET_KEY="k" * 50,
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        DATABASE_URL=POSTGRES,
        PORTAL_VAR_DIR=str(tmp_path),
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "False",
        "http://127.0.0.1:9876",
        API_KEY,  # the real key is never sent to the sandbox
        "http://127.0.0.1:9876/oauth/google/token",
        "[]",  # the sandbox's public default secret is a debug run's only
    ]
