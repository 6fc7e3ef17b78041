"""Fixtures of the browser tests: the live portal with a cluster, and Debian's chromium."""

from __future__ import annotations

import pytest
from django.conf import settings
from django_q.conf import Conf

from tests.conftest import require_service
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.cluster import start_cluster, stop_cluster


@pytest.fixture
def portal(live_server, sandbox, monkeypatch):
    """The live portal with webhooks from the sandbox and a cluster doing the queued work."""
    require_service(
        CHROMIUM.exists(), "Debian's chromium is not installed (apt-get install chromium)"
    )
    # Playwright's sync API runs an event loop in this thread; the ORM calls made here are
    # plain synchronous test code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    monkeypatch.setattr(Conf, "SYNC", False)
    sandbox.control(
        "POST",
        "config",
        {
            "webhook_url": f"{live_server.url}/webhooks/meetingbaas/",
            "webhook_secret": settings.MEETINGBAAS_WEBHOOK_SECRET[0],
            "sync_delay": 1.0,
        },
    )
    cluster = start_cluster(sandbox.url, Q_CLUSTER_NAME="portal")
    yield live_server.url
    output = stop_cluster(cluster)
    assert "Traceback" not in output, output[-3000:]


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()
