"""PostgreSQL unreachable: the web answers a plain 503, /healthz says so, the cluster lives on.

A TCP proxy of the test's own stands between the portal (gunicorn with production settings,
and a django-q2 cluster) and PostgreSQL; the outage drops every connection through it and
refuses new ones for OUTAGE_SECONDS (5; bench/outages.py runs it for 30), as a stopped server
does. The shared server itself is never touched.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from datetime import UTC, datetime

import pytest
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from calendars import queue
from calendars.actions import bulk
from calendars.models import BulkJob, Heartbeat
from tests.support.cluster import enqueue_onto, start_cluster, stop_cluster
from tests.support.gunicorn import Web
from tests.support.outages import (
    database_url_through,
    doubled_effects,
    proxy_to_test_database,
    report,
)
from tests.support.seeding import integrations_in_sandbox
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]

OUTAGE_SECONDS = float(os.environ.get("OUTAGE_SECONDS", "5"))
ITEMS = 60
MESSAGE = "The database is unavailable; try again in a minute."
NODE = "outage-host"


@pytest.fixture(autouse=True)
def on_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the outage is made by a proxy in front of PostgreSQL: its pass runs this")


def test_an_unreachable_database_gets_503_pages_and_everything_resumes(
    sandbox, customer, google_app, client, monkeypatch
):
    admin = get_user_model().objects.create_superuser("outage-admin", password="pw")
    client.force_login(admin)
    session = {settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value}
    state = sandbox.state
    integrations = integrations_in_sandbox(state, customer, google_app, ITEMS, status="active")
    sandbox.state.settle_all()
    monkeypatch.setattr(sandbox.state, "latency", 0.1)  # a job still running when the outage comes
    name = f"portal-outage-{uuid.uuid4().hex[:8]}"
    env = {
        "Q_CLUSTER_NAME": name,
        "Q_WORKERS": "2",
        # A task that loses the database tries again for half of Q_TIMEOUT: longer than the outage.
        "Q_TIMEOUT": str(round(max(20, 3 * OUTAGE_SECONDS))),
        "Q_RETRY": str(round(max(20, 3 * OUTAGE_SECONDS)) + 10),
        "BULK_TASK_SECONDS": "3",
        "MEETINGBAAS_WRITE_RATE": "0",
        "NODE_NAME": NODE,
        "DATABASE_CONNECT_TIMEOUT": "2",
    }
    with proxy_to_test_database() as proxy, enqueue_onto(name):
        through_proxy = database_url_through(proxy)
        web = Web(
            through_proxy,
            production=True,
            DATABASE_CONNECT_TIMEOUT="2",
            WEB_CONCURRENCY="1",
            WEB_THREADS="4",
        )
        cluster = start_cluster(sandbox.url, DATABASE_URL=through_proxy, **env)
        try:
            job = bulk.start(
                BulkJob.Kind.RESYNC,
                [i.pk for i in integrations],
                acting_user=None,
                description="outage",
            )
            got_going = wait_until(lambda: bulk.progress(job).done >= 5, 60)
            assert requests.get(f"{web.url}/admin/", cookies=session, timeout=10).status_code == 200

            proxy.refuse()
            cut_at = time.monotonic()
            answers = _during(OUTAGE_SECONDS, web.url, session)
            proxy.let_through()
            back_at = time.monotonic()
            restored_at = timezone.now()

            queue.enqueue("heartbeat", group="heartbeat")
            web_back = wait_until(
                lambda: _get(f"{web.url}/admin/", session).status_code == 200, 30, 0.2
            )
            web_back_after = time.monotonic() - back_at
            beat = wait_until(
                lambda: Heartbeat.objects.filter(node=NODE, seen_at__gt=restored_at).exists(), 60
            )
            beat_after = time.monotonic() - back_at
            finished = wait_until(lambda: bulk.progress(job).finished, 120, 0.2)
            cluster_alive = cluster.poll() is None
        finally:
            output = stop_cluster(cluster)
            web_output = web.stop()

    assert got_going, output[-3000:]
    pages = [a for a in answers if a["what"] == "admin page"]
    assert pages, "no request was made during the outage"
    for answer in answers:
        assert answer["status"] == 503, (answer, web_output[-3000:])
        assert "Traceback" not in answer["body"]
    assert all(MESSAGE in a["body"] for a in pages)
    assert all(a["retry_after"] == "60" for a in pages)
    health = [json.loads(a["body"]) for a in answers if a["what"] == "healthz"]
    assert all(h["checks"]["database"]["ok"] is False for h in health)
    assert all("database is unavailable" in h["message"] for h in health)

    assert web_back, web_output[-3000:]
    assert finished, output[-3000:]
    result = bulk.progress(job)
    assert (result.done, result.failed, result.not_fixed) == (ITEMS, 0, 0)
    resyncs = [sandbox.state.connections[i.remote_id].resyncs for i in integrations]
    assert min(resyncs) == 1
    # Only the item in hand at the cut may have been resynced twice (a resync is idempotent).
    assert sum(n - 1 for n in resyncs) <= 1
    assert beat, output[-3000:]
    assert cluster_alive, output[-3000:]
    first_after = (
        job.items.filter(finished_at__gt=restored_at).order_by("finished_at").first().finished_at
    )
    report(
        f"PostgreSQL unreachable for {OUTAGE_SECONDS:g} s (proxy refusing)",
        f"{ITEMS}-item bulk job, 1 cluster (2 workers), gunicorn; {len(answers)} requests during",
        lost=ITEMS - result.done,
        duplicates=doubled_effects(resyncs),
        recovery=(
            f"pages {web_back_after:.1f} s, cluster takes a new task {beat_after:.1f} s, "
            f"the job's next item done {(first_after - restored_at).total_seconds():.1f} s "
            f"after it came back ({time.monotonic() - cut_at:.0f} s after the cut, all done)"
        ),
    )


def _during(seconds: float, url: str, session: dict) -> list[dict]:
    """Ask the portal for pages, /healthz and a webhook delivery until `seconds` pass."""
    answers = []
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        for what, response in (
            ("admin page", _get(f"{url}/admin/calendars/integration/", session)),
            ("healthz", _get(f"{url}/healthz", {})),
            ("webhook", _post_webhook(url)),
        ):
            answers.append(
                {
                    "what": what,
                    "status": response.status_code,
                    "body": response.text,
                    "retry_after": response.headers.get("Retry-After"),
                }
            )
        time.sleep(0.5)
    return answers


def _get(url: str, cookies: dict) -> requests.Response:
    return requests.get(url, cookies=cookies, timeout=30)


def _post_webhook(url: str) -> requests.Response:
    body = json.dumps(
        {
            "event": "calendar.connection_updated",
            "data": {"calendar_id": str(uuid.uuid4()), "status": "active"},
        }
    )
    msg_id = f"msg_{uuid.uuid4().hex}"
    sent_at = datetime.now(UTC)
    headers = {
        "Content-Type": "application/json",
        "svix-id": msg_id,
        "svix-timestamp": str(int(sent_at.timestamp())),
        "svix-signature": Webhook(settings.MEETINGBAAS_WEBHOOK_SECRET[0]).sign(
            msg_id, sent_at, body
        ),
    }
    return requests.post(f"{url}/webhooks/meetingbaas/", data=body, headers=headers, timeout=30)
