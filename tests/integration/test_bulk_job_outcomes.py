"""A fix job's item is fixed only when its integration reaches the status the fix aims at."""

from __future__ import annotations

import threading
import time

import pytest
from django.test import TestCase
from django.urls import reverse

from calendars.actions import bulk
from calendars.actions.refresh import refresh_integration
from calendars.models import ActionRecord, BulkJob, BulkJobItem, Integration

CHANGELIST = reverse("admin:calendars_integration_changelist")
QUOTA = "Calendar API quota exceeded"


@pytest.fixture(autouse=True)
def quick_checks(settings) -> None:
    settings.FIX_CHECK_SECONDS = 0.5
    settings.FIX_CHECK_INTERVAL_SECONDS = 0.1


def act(client, action: str, integrations: list[Integration], **extra):
    data = {"action": action, "_selected_action": [i.pk for i in integrations], **extra}
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(CHANGELIST, data)


def broken(sandbox, integration: Integration) -> Integration:
    """The integration in error on Meeting BaaS, and known so in the portal."""
    sandbox.force(integration.remote_id, status="error", status_message=QUOTA)
    return refresh_integration(integration.pk)


@pytest.fixture
def two_broken_one_healthy(sandbox, make_integration) -> list[Integration]:
    calendars = [
        "alice@example.com",
        "alice.team@group.calendar.google.com",
        "alice.oncall@group.calendar.google.com",
    ]
    made = [make_integration(c) for c in calendars]
    return [broken(sandbox, i) for i in made[:2]] + made[2:]


def job_page(client, job: BulkJob) -> str:
    return client.get(reverse("admin:calendars_bulkjob_change", args=[job.pk])).content.decode()


def test_a_resync_that_leaves_integrations_in_error_says_they_were_not_fixed(
    admin_client, sandbox, two_broken_one_healthy
):
    act(admin_client, "resync", two_broken_one_healthy, confirm="1")

    job = BulkJob.objects.get()
    page = job_page(admin_client, job)
    progress = admin_client.get(reverse("admin:calendars_bulkjob_progress", args=[job.pk])).json()
    assert (progress["fixed"], progress["not_fixed"], progress["failed"]) == (1, 2, 0)
    assert progress["summary"] == "1 fixed, 2 still in error: see below."
    assert '<li id="progress-summary" class="warning">1 fixed, 2 still in error' in page
    not_fixed = job.items.filter(state=BulkJobItem.State.NOT_FIXED)
    assert {i.integration_id for i in not_fixed} == {i.pk for i in two_broken_one_healthy[:2]}
    assert all(i.reason == f"Still in error after 0.5 s: {QUOTA}" for i in not_fixed)
    assert page.count(f"Still in error after 0.5 s: {QUOTA}") == 2
    # It was checked again while Meeting BaaS had time, not judged on one look.
    remote_id = two_broken_one_healthy[0].remote_id
    assert len(sandbox.requests_to("GET", f"/v2/calendars/{remote_id}")) >= 3


def test_the_job_page_lists_each_integration_with_its_status_before_and_after(
    admin_client, sandbox, two_broken_one_healthy
):
    act(admin_client, "resync", two_broken_one_healthy, confirm="1")

    job = BulkJob.objects.get()
    page = job_page(admin_client, job)
    rows = {i.integration_id: (i.status_before, i.status_after) for i in job.items.all()}
    assert [rows[i.pk] for i in two_broken_one_healthy] == [
        ("error", "error"),
        ("error", "error"),
        ("syncing", "active"),
    ]
    for integration in two_broken_one_healthy:
        url = reverse("admin:calendars_integration_change", args=[integration.pk])
        assert f'<a href="{url}">{integration.raw_calendar}</a>' in page
    assert "<td>Error</td>\n      <td>Error</td>\n      <td>Did not fix</td>" in page
    assert "<td>Syncing</td>\n      <td>Active</td>\n      <td>Fixed</td>" in page


def test_an_integration_that_recovers_while_it_is_checked_counts_as_fixed(
    admin_client, sandbox, make_integration, settings, monkeypatch
):
    settings.FIX_CHECK_SECONDS = 3.0
    integration = broken(sandbox, make_integration())
    # Meeting BaaS gets the connection working between two of the portal's checks after the
    # resync: counted in reads, not seconds, so a loaded machine cannot reorder them.
    resynced = threading.Event()
    seen: list[str] = []
    changed, get = sandbox.state.changed, sandbox.state.get

    def note_resync(connection, event, events=None):
        changed(connection, event, events)
        if connection.id == integration.remote_id and event == "synced":
            resynced.set()

    def recover_on_the_second_check(api_version, connection_id):
        connection = get(api_version, connection_id)
        if resynced.is_set() and connection.id == integration.remote_id:
            seen.append(connection.status)
            if len(seen) == 2:  # working again, its first sync done (whenever it was due)
                sandbox.state.force(connection_id, {"status": "active", "synced": True})
        return connection

    monkeypatch.setattr(sandbox.state, "changed", note_resync)
    monkeypatch.setattr(sandbox.state, "get", recover_on_the_second_check)
    act(admin_client, "resync", [integration], confirm="1")

    assert seen[:1] == ["error"], "the portal never checked the connection while it was broken"

    item = BulkJobItem.objects.get()
    assert (item.state, item.status_before, item.status_after) == ("done", "error", "active")
    assert "1 fixed." in job_page(admin_client, item.job)


def test_a_recreate_is_judged_on_the_new_integration_and_links_it(
    admin_client, sandbox, make_integration, settings
):
    settings.FIX_CHECK_SECONDS = 3.0  # the new connection's first sync takes the sandbox 0.3 s
    old = make_integration()
    act(admin_client, "disconnect", [old], confirm="1")

    act(admin_client, "recreate", [old], confirm="1")

    item = BulkJob.objects.get(kind="recreate").items.get()
    new = Integration.objects.exclude(pk=old.pk).get()
    assert (item.state, item.status_before, item.status_after) == ("done", "disconnected", "active")
    assert item.recreated_as == new
    url = reverse("admin:calendars_integration_change", args=[new.pk])
    assert f'recreated as <a href="{url}">integration {new.pk}</a>' in job_page(
        admin_client, item.job
    )


def test_the_job_list_names_the_action_and_target_and_shows_the_outcome(
    admin_client, sandbox, two_broken_one_healthy
):
    act(admin_client, "resync", two_broken_one_healthy[1:3], confirm="1")

    page = admin_client.get(reverse("admin:calendars_bulkjob_changelist")).content.decode()
    assert "Resync events: 2 integrations of Acme Corp" in page
    assert "1 fixed, 1 did not fix, 0 failed" in page


def test_the_confirmation_says_what_counts_as_fixed(admin_client, sandbox, make_integration):
    page = act(admin_client, "resync", [make_integration()]).content.decode()

    assert "counts as fixed only once it is <strong>active</strong> afterwards" in page
    assert "up to 0.5 s" in page


def test_what_is_left_is_offered_again_only_once_the_job_has_finished(
    admin_client, sandbox, two_broken_one_healthy
):
    # Started but not run yet (its lanes are queued on commit): every item is pending.
    job = bulk.start(
        BulkJob.Kind.RESYNC,
        [i.pk for i in two_broken_one_healthy],
        acting_user=None,
        description="test",
    )
    rerun = reverse("admin:calendars_bulkjob_rerun", args=[job.pk])
    running_page = job_page(admin_client, job)
    refused = admin_client.post(rerun, follow=True).content.decode()
    bulk.run(job.pk)
    finished_page = job_page(admin_client, job)
    sandbox.control("POST", "reset")
    with TestCase.captureOnCommitCallbacks(execute=True):
        admin_client.post(rerun)

    assert "Run what is left again" not in running_page
    assert "still running" in refused
    assert job.items.filter(state="pending").count() == 0  # the refused re-run changed nothing
    assert "Run what is left again</button>\n  (2 items that did not succeed)" in finished_page
    # Only what did not fix ran again (the sandbox forgot every connection meanwhile).
    resynced = {r["path"] for r in sandbox.requests_to("POST", "/v2/calendars/")}
    assert resynced == {f"/v2/calendars/{i.remote_id}/sync" for i in two_broken_one_healthy[:2]}
    assert job.items.filter(state="done").count() == 1


def test_a_job_that_fixed_everything_offers_nothing_to_run_again(
    admin_client, sandbox, make_integration
):
    act(admin_client, "resync", [make_integration()], confirm="1")
    job = BulkJob.objects.get()

    page = job_page(admin_client, job)
    response = admin_client.post(
        reverse("admin:calendars_bulkjob_rerun", args=[job.pk]), follow=True
    )

    assert "Run what is left again" not in page
    assert "Nothing is left to run again." in response.content.decode()
    assert len(sandbox.requests_to("POST", "/v2/calendars/")) == 1  # the job's one resync


def test_a_connection_gone_remotely_is_not_fixed_at_once_without_waiting(
    admin_client, sandbox, make_integration, settings
):
    settings.FIX_CHECK_SECONDS = 3.0
    integration = make_integration()
    sandbox.state.delete(sandbox.connection(integration.remote_id))

    started = time.monotonic()
    act(admin_client, "resync", [integration], confirm="1")

    item = BulkJobItem.objects.get()
    assert time.monotonic() - started < 2.0  # no refresh can bring a disconnection back
    assert (item.state, item.status_after) == ("not_fixed", "disconnected")
    assert item.reason.startswith("Disconnected: Meeting BaaS does not know this calendar")
    assert "0 fixed, 1 disconnected: see below." in job_page(admin_client, item.job)


def test_no_action_record_says_done_for_work_that_failed(
    admin_client, sandbox, two_broken_one_healthy
):
    act(admin_client, "resync", two_broken_one_healthy, confirm="1")

    job = BulkJob.objects.get()
    broken, healthy = two_broken_one_healthy[0], two_broken_one_healthy[2]
    queued = ActionRecord.objects.get(integration=broken, action="resync")
    assert (queued.succeeded, queued.outcome) == (None, "queued")
    [outcome] = ActionRecord.objects.filter(integration=broken, action="Resync events")
    assert outcome.succeeded is False and outcome.username == queued.username == "admin"
    assert outcome.message == f"bulk job {job.pk}: Still in error after 0.5 s: {QUOTA}"
    [worked] = ActionRecord.objects.filter(integration=healthy, action="Resync events")
    assert worked.succeeded and worked.message == f"bulk job {job.pk}: fixed"
    timeline = admin_client.get(
        reverse("admin:calendars_customer_change", args=[broken.credential.customer_id])
    ).content.decode()
    assert "resync (queued)" in timeline and "Resync events (failed)" in timeline
    assert "resync (done)" not in timeline


def test_the_action_records_list_filters_done_failed_and_queued(
    admin_client, sandbox, two_broken_one_healthy
):
    act(admin_client, "resync", two_broken_one_healthy, confirm="1")
    changelist = reverse("admin:calendars_actionrecord_changelist")

    counts = {
        word: admin_client.get(changelist, {"outcome": word}).context["cl"].result_count
        for word in ("done", "failed", "queued")
    }

    # Done: the three integrations' creation and the one the resync fixed.
    assert counts == {"done": 4, "failed": 2, "queued": 3}
    page = admin_client.get(changelist, {"outcome": "queued"}).content.decode()
    assert '<td class="field-outcome">Queued</td>' in page
