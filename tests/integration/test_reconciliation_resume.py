"""Reconciliations that resume: a run done in many short tasks, or by a task killed mid-page and
delivered again, finds exactly what one uninterrupted run finds, each finding and each
correction once.

The data set is the benchmark's (bench/reconciliation.py), at 1,000 connections: 10 on v1, and
5 orphans, 5 ghosts and 10 drifted statuses among them, one page on v1 and four on v2, each
committed in parts of 50 connections.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from bench.reconciliation import as_built, plan, seed_portal, seed_sandbox
from calendars.actions import reconciliation
from calendars.models import (
    Reconciliation,
    ReconciliationListed,
    StatusChange,
)
from sandbox.accounts import account_for

SIZES = plan(1000)


class Killed(BaseException):
    """A worker dying: nothing in the portal catches it, as nothing outlives a SIGKILL."""


@pytest.fixture
def world(sandbox, db):
    seed_sandbox(sandbox.state, SIZES)
    seed_portal(SIZES)
    return sandbox


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    """The run's queue: successors are listed here (tests run tasks inline, which would nest
    each successor inside its predecessor), for the test to run one by one."""
    tasks: list[int] = []
    monkeypatch.setattr(reconciliation, "enqueue", tasks.append)
    return tasks


def findings_of(run: Reconciliation) -> list[tuple]:
    """A run's findings as comparable values (the reason of a ghost names its run)."""
    return sorted(
        run.findings.values_list(
            "kind", "api_version", "remote_id", "outcome", "differences", "integration__remote_id"
        )
    )


def uninterrupted() -> list[tuple]:
    """What one run finds from the start to the end, its writes then rolled back."""
    with transaction.atomic():
        found = findings_of(reconciliation.reconcile_now())
        transaction.set_rollback(True)
    return found


def drain(queued: list[int], run: Reconciliation, most: int = 100) -> Reconciliation:
    """Run the queued tasks, as a cluster would, until the run has finished."""
    for _ in range(most):
        run.refresh_from_db()
        if run.finished_at is not None:
            return run
        assert queued, "the run stopped without queuing its successor"
        reconciliation.run_reconciliation(queued.pop(0))
    raise AssertionError(f"{run} did not finish in {most} tasks")


def corrected_once() -> bool:
    changes = StatusChange.objects.values("integration").annotate(n=Count("pk"))
    return changes.count() == SIZES["ghosts"] + SIZES["drift"] and not changes.filter(n__gt=1)


def test_a_run_in_tasks_of_one_part_each_finds_what_one_run_finds(world, queued, settings):
    expected = uninterrupted()
    settings.BULK_TASK_SECONDS = 0  # each task commits one part, then queues its successor
    run = reconciliation.start(acting_user=None)
    queued.append(run.pk)

    run = drain(queued, run)

    assert run.succeeded, run.error
    # v1's page, v2's 20 parts and the ghosts' batch, each in a task of its own.
    assert run.tasks >= 22
    assert findings_of(run) == expected
    assert all(as_built(run, SIZES).values()), as_built(run, SIZES)
    assert (run.listed, run.orphans, run.ghosts, run.drift) == (1000, 5, 5, 10)
    assert corrected_once()
    assert not ReconciliationListed.objects.exists()  # dropped once the ghosts are known


@pytest.mark.parametrize("killed_in", [2, 22])  # v2's part with the drift; the ghosts' batch
def test_a_task_killed_mid_page_is_done_again_without_duplicates(
    world, queued, settings, monkeypatch, killed_in
):
    expected = uninterrupted()
    settings.BULK_TASK_SECONDS = 0
    record = reconciliation._record
    calls = 0

    def dies_in_one_commit(findings):
        # The part's corrections are made; the worker dies before its transaction commits.
        nonlocal calls
        calls += 1
        if calls == killed_in:
            raise Killed
        record(findings)

    monkeypatch.setattr(reconciliation, "_record", dies_in_one_commit)
    run = reconciliation.start(acting_user=None)
    queued.append(run.pk)
    with pytest.raises(Killed):
        drain(queued, run)
    run.refresh_from_db()
    assert run.finished_at is None
    # Died in v2's listing, after v1's page; or in v2's ghosts, after the whole listing.
    assert (run.listed, run.step == 3) == ((10, False) if killed_in == 2 else (1000, True))
    # The killed task is delivered again (the broker, or the sweep): it goes on from the part
    # it died in.
    queued.append(run.pk)

    run = drain(queued, run)

    assert findings_of(run) == expected
    assert all(as_built(run, SIZES).values()), as_built(run, SIZES)
    assert corrected_once()


def test_a_task_another_task_overtook_stops_without_writing(world, queued, settings):
    settings.BULK_TASK_SECONDS = 0
    run = reconciliation.start(acting_user=None)
    reconciliation.run_reconciliation(run.pk)  # v1's page
    # A second delivery of the same task, and the successor: the first to commit wins.
    stale = Reconciliation.objects.get(pk=run.pk)
    stale.stored = (stale.step, stale.position, stale.in_page)
    reconciliation.run_reconciliation(run.pk)
    moved = Reconciliation.objects.get(pk=run.pk)

    with pytest.raises(reconciliation._Overtaken), transaction.atomic():
        reconciliation._locked(stale)

    assert (moved.step, moved.position, moved.in_page) != stale.stored


def test_the_sweep_queues_again_a_run_whose_task_was_lost(world, queued, settings):
    silent = Reconciliation.objects.create()
    Reconciliation.objects.filter(pk=silent.pk).update(
        active_at=timezone.now() - timedelta(seconds=settings.Q_CLUSTER["retry"] + 1)
    )
    busy = Reconciliation.objects.create(active_at=timezone.now())
    done = Reconciliation.objects.create(finished_at=timezone.now())

    assert reconciliation.sweep() == [silent.pk]
    assert queued == [silent.pk]
    assert busy.pk not in queued and done.pk not in queued
    settings.BULK_TASK_SECONDS = 60
    run = drain(queued, silent)
    assert run.succeeded and (run.orphans, run.ghosts, run.drift) == (5, 5, 10)


def test_a_running_runs_page_shows_how_far_it_has_gone(world, queued, settings, role_client):
    settings.BULK_TASK_SECONDS = 0
    run = reconciliation.start(acting_user=None)
    for _ in range(3):  # v1's page, then v2's first two parts
        reconciliation.run_reconciliation(run.pk)

    auditor = role_client("Auditor")
    page = auditor.get(reverse("admin:calendars_reconciliation_change", args=[run.pk]))
    listing = auditor.get(reverse("admin:calendars_reconciliation_changelist"))

    text = page.content.decode()
    assert "Running: listing the API v2 connections, in its task 3" in text
    assert '<td id="count-listed">110</td>' in text
    # v2's first part holds the drift: counted so far, though the run has not finished.
    assert '<td id="count-drift">10</td>' in text
    assert "Running: 110 listed so far" in listing.content.decode()


# The create window is the time-sensitive rule here (`pytest --clocks` runs it at nine moments);
# the others are about the order of commits, whatever the hour.
@pytest.mark.clock
def test_a_connection_made_while_a_run_is_between_tasks_is_not_judged(
    world, queued, settings, credential
):
    settings.BULK_TASK_SECONDS = 0
    run = reconciliation.start(acting_user=None)
    reconciliation.run_reconciliation(run.pk)  # v1's page: the run's start is stored
    world.state.create(
        "v2",
        account_for("google", "secret", "1//refresh:alice@example.com"),
        "alice.team@group.calendar.google.com",
    )  # made now, during the run, by another tool or a create in flight
    queued.append(run.pk)

    run = drain(queued, run)

    assert (run.listed, run.too_recent, run.orphans) == (1001, 1, 5)
    found = as_built(run, SIZES)
    assert found.pop("listed") is False  # one more than the data set holds: the new one
    assert all(found.values()), found
