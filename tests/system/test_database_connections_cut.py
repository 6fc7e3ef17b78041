"""Every PostgreSQL connection the portal holds is cut (pg_terminate_backend) in mid-job.

A django-q2 cluster (the ORM broker: its queue is in the same database) works on a bulk job, a
burst of webhook deliveries, the meetings window syncs or a reconciliation; the test then
terminates every connection to its own test database but its own (never another database's).
Afterwards each job has finished once in effect, nothing is left pending, nothing is doubled.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django_q.models import Schedule

from calendars import queue
from calendars.actions import bulk, reconciliation
from calendars.meetings.policy import wanting_a_bot
from calendars.meetings.sync import sync_windows
from calendars.models import (
    BotAttempt,
    BotPolicy,
    BulkJob,
    Integration,
    Meeting,
    Reconciliation,
    StatusChange,
    WebhookDelivery,
)
from tests.support.cluster import printed, start_cluster, stop_cluster
from tests.support.outages import (
    connection_updates,
    doubled_effects,
    report,
    terminate_database_connections,
)
from tests.support.seeding import integrations_in_sandbox
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]

ENV = {
    "Q_WORKERS": "2",
    "Q_TIMEOUT": "20",  # a task that loses the database tries again for half of it
    "Q_RETRY": "30",
    "BULK_TASK_SECONDS": "5",
    "MEETINGBAAS_WRITE_RATE": "0",
}


@pytest.fixture(autouse=True)
def on_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("pg_terminate_backend is PostgreSQL's: its pass runs this")


@pytest.fixture
def cluster(broker, sandbox):
    """One cluster on the test's own queue (ORM broker); stopped whatever happens."""
    clusters = []
    # The schedules would start work of their own (a refresh, a reconciliation) beside the
    # test's: the test queues what it needs.
    Schedule.objects.all().delete()

    def start(**env: str):
        clusters.append(start_cluster(sandbox.url, **(broker | ENV | env)))
        return clusters[-1]

    yield start
    for running in clusters:
        output = stop_cluster(running)
        assert running.returncode is not None, output[-3000:]


@pytest.mark.parametrize("broker", ["orm"], indirect=True)
def test_a_400_item_bulk_job_finishes_once_after_its_connections_are_cut(
    cluster, sandbox, customer, google_app, monkeypatch, settings
):
    state = sandbox.state
    integrations = integrations_in_sandbox(state, customer, google_app, 400, status="active")
    state.settle_all()
    monkeypatch.setattr(state, "latency", 0.01)
    settings.BULK_LANES = 2
    cluster()
    job = bulk.start(
        BulkJob.Kind.RESYNC, [i.pk for i in integrations], acting_user=None, description="cut"
    )
    assert wait_until(lambda: bulk.progress(job).done >= 100, 120), "the job never got going"

    cut, cut_at = terminate_database_connections(), timezone.now()
    started = time.monotonic()
    finished = wait_until(lambda: bulk.progress(job).finished, 180, 0.2)
    took = time.monotonic() - started

    assert cut >= 2, "the cluster held no connection to cut"
    assert finished
    result = bulk.progress(job)
    assert (result.done, result.failed, result.not_fixed) == (400, 0, 0)
    resyncs = [state.connections[i.remote_id].resyncs for i in integrations]
    assert min(resyncs) == 1
    # At most the items the two lanes held at the cut were sent twice (a resync is idempotent).
    assert sum(n - 1 for n in resyncs) <= 2
    assert Integration.objects.count() == 400
    report(
        f"PostgreSQL connections cut ({cut} terminated)",
        "400-item bulk job (resync), 2 lanes, 1 cluster",
        lost=400 - result.done,
        duplicates=doubled_effects(resyncs),
        recovery=f"next item {_next_done(job, cut_at):.1f} s after the cut, all done {took:.1f} s",
    )


@pytest.mark.parametrize("broker", ["orm"], indirect=True)
def test_a_burst_of_1000_webhook_deliveries_ends_applied_after_its_connections_are_cut(
    cluster, sandbox, customer, google_app
):
    integrations = integrations_in_sandbox(sandbox.state, customer, google_app, 100, status="error")
    sent_at = timezone.now() - timedelta(minutes=1)
    connection_updates(integrations, 1000, sent_at=sent_at)
    cluster(Q_WORKERS="2")
    pending = WebhookDelivery.objects.filter(outcome=WebhookDelivery.Outcome.PENDING)
    assert wait_until(lambda: pending.count() <= 700, 120), "the cluster never got going"

    cut, cut_at = terminate_database_connections(), timezone.now()
    started = time.monotonic()
    done = wait_until(lambda: not pending.exists(), 180, 0.2)
    took = time.monotonic() - started

    assert cut >= 2
    assert done, f"{pending.count()} deliveries still pending"
    outcomes = Counter(WebhookDelivery.objects.values_list("outcome", flat=True))
    failed = WebhookDelivery.objects.filter(outcome="failed")
    failures = list(failed.values_list("error", flat=True))
    assert set(outcomes) <= {"applied", "stale"}, failures
    newest = sent_at + timedelta(seconds=9)
    assert set(Integration.objects.values_list("remote_updated_at", flat=True)) == {newest}
    # "active" on a calendar never synced yet is syncing, for the portal.
    assert set(Integration.objects.values_list("status", flat=True)) == {"syncing"}
    # One change per integration, however the deliveries interleaved.
    changes = StatusChange.objects.filter(integration__in=integrations)
    per_integration = Counter(changes.values_list("integration_id", flat=True))
    assert sorted(per_integration.values()) == [1] * 100
    after = WebhookDelivery.objects.filter(processed_at__gt=cut_at).order_by("processed_at")
    report(
        f"PostgreSQL connections cut ({cut} terminated)",
        "burst of 1,000 webhook deliveries, 1 cluster (2 workers)",
        lost=sum(outcomes.values()) - outcomes["applied"] - outcomes["stale"],
        duplicates=sum(per_integration.values()) - 100,
        recovery=(
            f"next delivery applied {(after.first().processed_at - cut_at).total_seconds():.1f} s "
            f"after the cut, all {took:.1f} s ({dict(outcomes)})"
        ),
    )


@pytest.mark.parametrize("broker", ["orm"], indirect=True)
def test_the_meetings_window_sync_ends_once_after_its_connections_are_cut(
    cluster, sandbox, customer, google_app, monkeypatch, settings
):
    state = sandbox.state
    integrations = integrations_in_sandbox(state, customer, google_app, 20, status="active")
    state.settle_all()
    BotPolicy.objects.create(customer=customer, mode=BotPolicy.Mode.RECORD_ALL)
    monkeypatch.setattr(state, "latency", 0.2)  # a sync still running at the cut
    settings.MEETINGS_SYNC_MINUTES = 1  # every integration is due at once
    cluster(MEETINGS_SYNC_MINUTES="1")
    queue.enqueue("queue_meeting_syncs", group="meetings")
    synced = Meeting.objects.values("integration").distinct()
    assert wait_until(lambda: synced.count() >= 5, 120), "the sync never got going"

    cut = terminate_database_connections()
    started = time.monotonic()
    complete = wait_until(lambda: synced.count() == 20, 120, 0.2)
    took = time.monotonic() - started
    state.latency = 0.0  # the bots, quickly
    bots_done = wait_until(_every_bot_asked_for, 60, 0.2)
    bots_took = time.monotonic() - started
    held = set(Meeting.objects.values_list("integration_id", "remote_event_id"))
    # An uninterrupted sync of every window now, in this process, finds nothing to change.
    again = sync_windows([i.pk for i in integrations])

    assert cut >= 2
    assert complete, f"{synced.count()} of 20 integrations synced"
    assert again["synced"] == 20, again
    assert set(Meeting.objects.values_list("integration_id", "remote_event_id")) == held
    assert bots_done, _bot_state()
    per_event = Counter(
        BotAttempt.objects.filter(action="policy").values_list("remote_event_id", flat=True)
    )
    assert max(per_event.values()) == 1, "a bot was asked for twice"
    assert not BotAttempt.objects.filter(succeeded=False).exists()
    asked = Meeting.objects.filter(auto_bot_at__isnull=False)
    assert asked.count() == asked.filter(has_bot=True).count() == len(per_event)
    bots = sum(e.bot is not None for c in state.connections.values() for e in state.events_of(c))
    assert bots == len(per_event)
    report(
        f"PostgreSQL connections cut ({cut} terminated)",
        f"meetings window sync of 20 integrations ({len(held)} meetings, {bots} bots)",
        lost=0,
        duplicates=sum(n - 1 for n in per_event.values()),
        recovery=f"all windows synced {took:.1f} s, every bot {bots_took:.1f} s after the cut",
    )


@pytest.mark.parametrize("broker", ["orm"], indirect=True)
def test_a_reconciliation_finishes_once_after_its_connections_are_cut(
    cluster, sandbox, customer, google_app, monkeypatch
):
    state = sandbox.state
    integrations = integrations_in_sandbox(state, customer, google_app, 600, status="active")
    orphans = {i.remote_id for i in integrations[:20]}
    Integration.objects.filter(remote_id__in=orphans).delete()  # on Meeting BaaS only
    state.settle_all()
    for connection_ in state.connections.values():
        connection_.created_at -= timedelta(hours=1)  # old enough to be judged
    monkeypatch.setattr(state, "latency", 0.5)  # a page of 250 each half second
    worker = cluster()
    run = reconciliation.start(acting_user=None)
    listed = wait_until(lambda: _listed_pages(sandbox) >= 1, 60, 0.05)

    cut = terminate_database_connections()
    started = time.monotonic()
    finished = wait_until(
        lambda: Reconciliation.objects.get(pk=run.pk).finished_at is not None, 120, 0.2
    )
    took = time.monotonic() - started

    assert listed and cut >= 1
    # The cut reached the run itself, which was run again on a new connection.
    assert "run_reconciliation lost the database" in printed(worker)
    assert finished
    run.refresh_from_db()
    assert run.succeeded, run.error
    found = Counter(run.findings.filter(kind="orphan").values_list("remote_id", flat=True))
    assert set(found) == orphans
    assert Reconciliation.objects.count() == 1
    assert Integration.objects.count() == 580
    report(
        f"PostgreSQL connections cut ({cut} terminated)",
        "reconciliation of 600 connections (20 orphans)",
        lost=len(orphans - set(found)),
        duplicates=sum(n - 1 for n in found.values()),
        recovery=f"run finished {took:.1f} s after the cut",
    )


def _next_done(job: BulkJob, cut_at) -> float:
    first = job.items.filter(finished_at__gt=cut_at).order_by("finished_at").first()
    return (first.finished_at - cut_at).total_seconds()


def _bot_state() -> dict:
    meetings = Meeting.objects.all()
    return {
        "meetings": meetings.count(),
        "wanting": wanting_a_bot(meetings).count(),
        "asked": meetings.filter(auto_bot_at__isnull=False).count(),
        "with a bot": meetings.filter(has_bot=True).count(),
        "failed": meetings.exclude(bot_failure="").count(),
        "attempts": BotAttempt.objects.count(),
    }


def _every_bot_asked_for() -> bool:
    """No meeting wants a bot the policy has not asked for, and every ask has its answer
    recorded (a sync may read a bot before its task has written the attempt)."""
    meetings = Meeting.objects.all()
    answered = BotAttempt.objects.filter(meeting=OuterRef("pk"), at__gte=OuterRef("auto_bot_at"))
    unanswered = meetings.filter(auto_bot_at__isnull=False).exclude(Exists(answered))
    return not wanting_a_bot(meetings).exists() and not unanswered.exists()


def _listed_pages(sandbox) -> int:
    return len(sandbox.requests_to("GET", "/v2/calendars"))
