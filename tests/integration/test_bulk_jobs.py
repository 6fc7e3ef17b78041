"""Guided fixes: confirmation pages, bulk jobs with progress, and re-running what is left."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from calendars import tasks
from calendars.actions import bulk
from calendars.models import BulkJob, BulkJobItem, Integration, OAuthApp, StatusChange

CHANGELIST = reverse("admin:calendars_integration_changelist")


def act(client, action: str, integrations: list[Integration], **extra):
    data = {"action": action, "_selected_action": [i.pk for i in integrations], **extra}
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(CHANGELIST, data)


@pytest.fixture
def three(make_integration) -> list[Integration]:
    return [
        make_integration(),
        make_integration("alice.team@group.calendar.google.com"),
        make_integration("alice.oncall@group.calendar.google.com"),
    ]


def test_resync_asks_first_and_says_exactly_what_will_happen(admin_client, sandbox, three):
    page = act(admin_client, "resync", three)

    html = page.content.decode()
    assert page.status_code == 200
    assert "POST /v2/calendars/{id}/sync" in html and "Yes, go ahead" in html
    assert all(str(i.remote_id) in html for i in three)
    assert not BulkJob.objects.exists()
    assert not sandbox.requests_to("POST", "/v2/calendars/")


def test_a_confirmed_resync_runs_as_a_job_and_reaches_100_percent(admin_client, sandbox, three):
    response = act(admin_client, "resync", three, confirm="1")

    job = BulkJob.objects.get()
    assert response.url == reverse("admin:calendars_bulkjob_change", args=[job.pk])
    progress = admin_client.get(reverse("admin:calendars_bulkjob_progress", args=[job.pk])).json()
    assert progress == {
        "total": 3,
        "fixed": 3,
        "not_fixed": 0,
        "failed": 0,
        "pending": 0,
        "percent": 100,
        "finished": True,
        "summary": "All 3 fixed.",
    }
    assert len(sandbox.requests_to("POST", "/v2/calendars/")) == 3  # one sync each
    page = admin_client.get(response.url).content.decode()
    assert '<strong id="progress-percent">100%</strong>' in page
    assert '<li id="progress-summary" class="success">All 3 fixed.</li>' in page
    assert "Worker host" not in page and "Worked on by" not in page  # one host: nothing to say


def test_failures_are_listed_with_their_reason_and_a_rerun_does_only_what_is_left(
    admin_client, sandbox, three
):
    sandbox.fault(
        "POST", f"/v2/calendars/{three[1].remote_id}/sync", "status", status=500, count=20
    )

    act(admin_client, "resync", three, confirm="1")
    job = BulkJob.objects.get()
    page = admin_client.get(
        reverse("admin:calendars_bulkjob_change", args=[job.pk])
    ).content.decode()
    syncs_before = len(sandbox.requests_to("POST", "/v2/calendars/"))
    sandbox.control("POST", "reset")  # faults gone; a rerun must touch only the failed one
    with TestCase.captureOnCommitCallbacks(execute=True):
        admin_client.post(reverse("admin:calendars_bulkjob_rerun", args=[job.pk]))

    assert "Failed" in page and "unavailable" in page and "Run what is left again" in page
    assert syncs_before > 0
    requests_after = sandbox.requests_to("POST", "/v2/calendars/")
    assert [r["path"] for r in requests_after] == [f"/v2/calendars/{three[1].remote_id}/sync"]


def test_a_job_interrupted_midway_finishes_without_redoing_finished_items(sandbox, three):
    job = bulk.start(
        BulkJob.Kind.RESYNC, [i.pk for i in three], acting_user=None, description="test"
    )
    first = job.items.order_by("pk").first()
    BulkJobItem.objects.filter(pk=first.pk).update(state="done")
    # the worker died while holding the second item: claimed (attempts 1) but still pending
    second = job.items.order_by("pk")[1]
    BulkJobItem.objects.filter(pk=second.pk).update(attempts=1)

    result = bulk.run(job.pk)

    assert (result.done, result.failed, result.pending) == (3, 0, 0)
    synced = [
        r["path"]
        for r in sandbox.requests_to("POST", "/v2/calendars/")
        if r["path"].endswith("/sync")
    ]
    assert sorted(synced) == sorted(f"/v2/calendars/{i.remote_id}/sync" for i in three[1:])


def test_disconnect_deletes_remotely_and_keeps_history(role_client, sandbox, three):
    client = role_client("Admin")

    act(client, "disconnect", three[:1], confirm="1")

    integration = Integration.objects.get(pk=three[0].pk)
    assert integration.status == "disconnected"
    assert "Disconnected through the portal by admin-user" in integration.error_message
    assert sandbox.requests_to("DELETE", f"/v2/calendars/{three[0].remote_id}")
    assert StatusChange.objects.filter(
        integration=integration, to_status="disconnected", cause="admin_action"
    ).exists()


def test_support_may_not_disconnect(role_client, sandbox, three):
    act(role_client("Support"), "disconnect", three[:1], confirm="1")

    assert not BulkJob.objects.exists()
    assert not sandbox.requests_to("DELETE", "/v2/calendars/")


def test_recreate_makes_a_new_integration_for_a_disconnected_one(admin_client, sandbox, three):
    act(admin_client, "disconnect", three[:1], confirm="1")

    page = act(admin_client, "recreate", three)  # two live ones are left out
    act(admin_client, "recreate", three[:1], confirm="1")
    act(admin_client, "recreate", three[:1], confirm="1")  # again: still one new integration

    assert "2 selected ones are left out" in page.content.decode()
    live = Integration.objects.filter(raw_calendar=three[0].raw_calendar).exclude(
        status="disconnected"
    )
    assert live.count() == 1 and live.get().pk != three[0].pk


def test_rotating_a_client_secret_pushes_it_to_every_integration_of_the_app(
    admin_client, sandbox, three
):
    app = OAuthApp.objects.get()
    url = reverse("admin:calendars_oauthapp_changelist")
    data = {
        "action": "rotate_client_secret",
        "_selected_action": [app.pk],
        "apply": "1",
        "client_secret": "rotated-secret",
    }

    with TestCase.captureOnCommitCallbacks(execute=True):
        response = admin_client.post(url, data)

    assert response.url.startswith("/admin/calendars/bulkjob/")
    app.refresh_from_db()
    assert app.client_secret.reveal() == "rotated-secret"
    assert len(sandbox.requests_to("PATCH", "/v2/calendars/")) == 3
    assert {sandbox.connection(i.remote_id).client_secret for i in three} == {"rotated-secret"}
    assert BulkJob.objects.get().kind == "push_credentials"


def test_a_job_whose_tasks_were_all_lost_is_resumed_by_the_sweeper(sandbox, make_integration):
    integration = make_integration()
    lost = BulkJob.objects.create(kind=BulkJob.Kind.RESYNC, description="lost")
    alive = BulkJob.objects.create(kind=BulkJob.Kind.RESYNC, description="alive")
    for job in (lost, alive):
        BulkJobItem.objects.create(job=job, integration=integration)
    BulkJob.objects.filter(pk=lost.pk).update(active_at=timezone.now() - timedelta(hours=1))
    BulkJob.objects.filter(pk=alive.pk).update(active_at=timezone.now())

    assert tasks.sweep_bulk_jobs() == 1  # tasks run inline in tests: the lost job runs now

    assert bulk.progress(lost).finished and bulk.progress(lost).done == 1
    assert bulk.progress(alive).pending == 1


def test_an_item_whose_task_keeps_dying_is_failed_not_retried_forever(sandbox, three):
    job = bulk.start(BulkJob.Kind.RESYNC, [three[0].pk], acting_user=None, description="poison")
    BulkJobItem.objects.filter(job=job).update(attempts=bulk.MAX_ITEM_ATTEMPTS)  # died 3 times

    result = bulk.run(job.pk)

    assert (result.done, result.failed) == (0, 1)
    assert "its task died 3 times" in job.items.get().reason
    assert not sandbox.requests_to("POST", f"/v2/calendars/{three[0].remote_id}/sync")
