"""Reconciliation against the live sandbox: orphans adopted or deleted, ghosts, drift, and a
create racing a run."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from calendars import tasks
from calendars.actions.integrations import create_integration
from calendars.actions.reconciliation import (
    FindingRefused,
    delete_orphan,
    reconcile_now,
    run_reconciliation,
)
from calendars.models import (
    ActionRecord,
    Credential,
    Integration,
    RawCalendar,
    Reconciliation,
    ReconciliationFinding,
    StatusChange,
)
from sandbox.accounts import account_for

ALICE = "1//refresh:alice@example.com"
TEAM = "alice.team@group.calendar.google.com"


def remote_only(sandbox, raw_id: str = TEAM, *, token: str = ALICE, age_minutes: int = 60):
    """A connection made on Meeting BaaS by another tool, `age_minutes` ago."""
    made = sandbox.state.create("v2", account_for("google", "secret", token), raw_id)
    made.created_at -= timedelta(minutes=age_minutes)
    return made


def findings(kind: str) -> list[ReconciliationFinding]:
    return list(ReconciliationFinding.objects.filter(kind=kind))


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


@pytest.fixture
def admin_client(role_client):
    return role_client("Admin")


@pytest.mark.clock
def test_an_orphan_is_listed_with_its_account_platform_creation_and_status(
    sandbox, make_integration
):
    make_integration()
    orphan = remote_only(sandbox)

    run = reconcile_now()

    assert (run.succeeded, run.listed, run.orphans, run.ghosts, run.drift) == (True, 2, 1, 0, 0)
    [finding] = findings("orphan")
    assert finding.remote_id == orphan.id
    assert (finding.account_email, finding.platform, finding.remote_status) == (
        "alice@example.com",
        "google",
        "active",
    )
    assert abs(finding.remote_created_at - orphan.created_at) < timedelta(milliseconds=1)
    assert finding.outcome == "open"


@pytest.mark.clock
def test_the_daily_run_supersedes_the_last_runs_open_orphans(
    sandbox, credential, django_capture_on_commit_callbacks
):
    remote_only(sandbox)
    first = reconcile_now()

    with django_capture_on_commit_callbacks(execute=True):
        queued = tasks.reconcile_daily()

    daily = Reconciliation.objects.exclude(pk=first.pk).get()
    assert queued == f"{daily} queued"
    assert daily.finished_at is not None and daily.started_by is None
    stale = ReconciliationFinding.objects.get(run=first)
    assert (stale.outcome, stale.reason) == ("settled", f"Superseded by {daily}.")
    assert list(ReconciliationFinding.objects.filter(outcome="open")) == list(daily.findings.all())


def test_an_admin_adopts_an_orphan_into_an_integration_with_its_history(
    sandbox, credential, admin_client
):
    orphan = remote_only(sandbox)
    run = reconcile_now()
    finding = ReconciliationFinding.objects.get()

    response = admin_client.post(
        reverse("admin:calendars_reconciliation_adopt", args=[finding.pk]), follow=True
    )

    integration = Integration.objects.get(remote_id=orphan.id)
    assert integration.credential == credential
    assert integration.raw_calendar.provider_id == TEAM
    assert integration.api_version == "v2" and integration.provider == "google"
    first = StatusChange.objects.get(integration=integration)
    assert first.message == f"Adopted during Reconciliation {run.pk}."
    assert first.cause == "created"
    finding.refresh_from_db()
    assert (finding.outcome, finding.integration) == ("adopted", integration)
    assert ActionRecord.objects.get(action="adopt connection").integration == integration
    assert f"adopted as integration {integration.pk}" in " ".join(messages_of(response))
    # Adopted, it is no orphan the next time.
    assert reconcile_now().orphans == 0


def test_adopting_says_why_when_no_credential_fits(sandbox, credential, admin_client):
    remote_only(sandbox, "bob@example.com", token="rt:bob@example.com")
    reconcile_now()
    finding = ReconciliationFinding.objects.get()

    response = admin_client.post(
        reverse("admin:calendars_reconciliation_adopt", args=[finding.pk]), follow=True
    )

    why = "No credential for bob@example.com on a google OAuth app."
    assert any(why in m for m in messages_of(response))
    finding.refresh_from_db()
    assert (finding.outcome, finding.reason) == ("open", f"Not adopted: {why}")
    assert not Integration.objects.exists()
    assert ActionRecord.objects.get(action="adopt connection").succeeded is False


def test_adopting_says_why_when_two_credentials_fit(sandbox, credential, admin_client):
    Credential.objects.create(
        customer=credential.customer,
        oauth_app=credential.oauth_app,
        account_email="Alice@Example.com",
        refresh_token="another",
    )
    remote_only(sandbox)
    reconcile_now()
    finding = ReconciliationFinding.objects.get()

    admin_client.post(reverse("admin:calendars_reconciliation_adopt", args=[finding.pk]))

    finding.refresh_from_db()
    assert finding.outcome == "open"
    assert "2 credentials fit alice@example.com" in finding.reason
    assert not Integration.objects.exists()


def test_adopting_a_duplicate_of_a_live_integration_is_refused(
    sandbox, make_integration, admin_client
):
    make_integration(TEAM)
    # Another tool connected the same calendar again through another API version.
    duplicate = sandbox.state.create("v1", account_for("google", "s", ALICE), TEAM)
    run = reconcile_now()
    finding = ReconciliationFinding.objects.get(remote_id=duplicate.id)
    # v1 gives no creation time: old enough once the run's own start is.
    Reconciliation.objects.filter(pk=run.pk).update(started_at=run.started_at - timedelta(hours=1))

    admin_client.post(reverse("admin:calendars_reconciliation_adopt", args=[finding.pk]))

    finding.refresh_from_db()
    assert finding.outcome == "open"
    assert "this connection duplicates it; delete it instead" in finding.reason
    assert Integration.objects.count() == 1


def test_a_connection_still_there_behind_a_disconnected_integration_is_an_orphan(
    sandbox, make_integration, admin_client
):
    integration = make_integration()
    Integration.objects.filter(pk=integration.pk).update(status="disconnected")
    reconcile_now()
    [finding] = findings("orphan")
    assert finding.integration == integration
    assert "is disconnected in the portal, but Meeting BaaS still holds" in finding.differences

    admin_client.post(reverse("admin:calendars_reconciliation_adopt", args=[finding.pk]))

    finding.refresh_from_db()
    assert finding.outcome == "open" and "recreate that integration" in finding.reason
    assert Integration.objects.count() == 1


def test_delete_on_meeting_baas_asks_for_confirmation_then_deletes_and_records_it(
    sandbox, credential, admin_client
):
    orphan = remote_only(sandbox)
    reconcile_now()
    finding = ReconciliationFinding.objects.get()
    url = reverse("admin:calendars_reconciliation_delete_orphan", args=[finding.pk])

    page = admin_client.get(url)
    assert page.status_code == 200
    assert str(orphan.id) in page.content.decode()
    assert orphan.id in sandbox.state.connections

    admin_client.post(url, {"confirm": "1"})

    assert orphan.id not in sandbox.state.connections
    finding.refresh_from_db()
    assert finding.outcome == "deleted" and finding.resolved_by.username == "admin-user"
    record = ActionRecord.objects.get(action="delete connection on Meeting BaaS")
    assert record.succeeded and str(orphan.id) in record.message
    assert sandbox.requests_to("DELETE", f"/v2/calendars/{orphan.id}")


def test_an_integration_whose_connection_is_gone_is_a_ghost_marked_disconnected(
    sandbox, make_integration
):
    integration = make_integration()
    sandbox.state.delete(sandbox.connection(integration.remote_id))

    run = reconcile_now()

    integration.refresh_from_db()
    assert integration.status == "disconnected"
    assert integration.error_message.endswith(f"Found missing by {run}.")
    change = StatusChange.objects.get(integration=integration, to_status="disconnected")
    assert change.cause == "refresh"
    [ghost] = findings("ghost")
    assert (ghost.integration, ghost.outcome) == (integration, "disconnected")
    assert run.ghosts == 1


def test_a_status_that_drifted_is_corrected_with_a_status_change(sandbox, make_integration):
    integration = make_integration()
    time.sleep(0.35)
    tasks.refresh_all_integrations()
    sandbox.force(integration.remote_id, status="error", status_message="Calendar API quota")

    run = reconcile_now()

    integration.refresh_from_db()
    assert (integration.status, integration.error_message) == ("error", "Calendar API quota")
    [drift] = findings("drift")
    assert (drift.differences, drift.outcome) == ("status: active → error", "corrected")
    assert StatusChange.objects.filter(integration=integration, to_status="error").exists()
    # Corrected, it has drifted no more.
    assert reconcile_now().drift == 0 and run.drift == 1


def test_an_account_that_drifted_is_corrected_in_the_history(sandbox, make_integration, credential):
    integration = make_integration()
    bob = Credential.objects.create(
        customer=credential.customer,
        oauth_app=credential.oauth_app,
        account_email="bob@example.com",
        refresh_token="rt:bob@example.com",
    )
    wrong_raw = RawCalendar.objects.create(
        credential=bob, provider_id="alice@example.com", listed_at=timezone.now()
    )
    right_raw = integration.raw_calendar
    integration.credential, integration.raw_calendar = bob, wrong_raw
    integration.save()

    reconcile_now()

    integration.refresh_from_db()
    assert (integration.credential, integration.raw_calendar) == (credential, right_raw)
    [drift] = findings("drift")
    assert drift.differences == "account: bob@example.com → alice@example.com"
    assert drift.outcome == "corrected"
    assert integration.history.first().credential_id == credential.pk
    record = ActionRecord.objects.get(action="reconciliation correction")
    assert record.integration == integration and "account: bob" in record.message


def test_a_v1_raw_calendar_that_drifted_is_corrected(sandbox, make_integration, settings):
    settings.MEETINGBAAS_API_VERSION = "v1"
    integration = make_integration()
    primary = integration.raw_calendar
    team = RawCalendar.objects.create(
        credential=integration.credential, provider_id=TEAM, listed_at=timezone.now()
    )
    Integration.objects.filter(pk=integration.pk).update(raw_calendar=team)

    reconcile_now()

    integration.refresh_from_db()
    assert integration.raw_calendar == primary
    [drift] = findings("drift")
    assert drift.differences == f"raw calendar: {TEAM} → alice@example.com"


def test_drift_nobody_can_settle_says_why(sandbox, make_integration, credential):
    integration = make_integration()
    Credential.objects.filter(pk=credential.pk).update(account_email="renamed@example.com")

    reconcile_now()

    [drift] = findings("drift")
    assert drift.outcome == "not_corrected"
    assert drift.reason == "No credential for alice@example.com on a google OAuth app."
    integration.refresh_from_db()
    assert integration.credential == credential


@pytest.mark.clock
@pytest.mark.django_db(transaction=True)
def test_a_create_racing_a_reconciliation_never_becomes_an_orphan(sandbox, credential):
    raw = RawCalendar.objects.create(
        credential=credential, provider_id=TEAM, listed_at=timezone.now()
    )
    run = Reconciliation.objects.create()
    # Meeting BaaS makes the connection at once but answers the create late: the run starts
    # and lists it while its integration row is not written yet.
    sandbox.fault("POST", "/v2/calendars", "slow", delay=1.5)
    creating = threading.Thread(target=lambda: (create_integration(raw), connection.close()))
    creating.start()
    wait_for(lambda: sandbox.state.connections)
    assert not Integration.objects.exists()

    run = run_reconciliation(run.pk)
    creating.join()

    assert (run.listed, run.too_recent, run.orphans) == (1, 1, 0)
    assert Integration.objects.get().raw_calendar == raw
    assert not ReconciliationFinding.objects.exists()


def wait_for(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.clock
def test_an_orphan_an_integration_took_since_the_run_is_neither_deleted_nor_adopted(
    sandbox, credential, admin_client
):
    orphan = remote_only(sandbox)
    reconcile_now()
    finding = ReconciliationFinding.objects.get()
    # A create of the same calendar meets a 409 and adopts the existing connection.
    raw = RawCalendar.objects.create(
        credential=credential, provider_id=TEAM, listed_at=timezone.now()
    )
    taken = create_integration(raw).integration
    assert taken.remote_id == orphan.id

    url = reverse("admin:calendars_reconciliation_delete_orphan", args=[finding.pk])
    response = admin_client.post(url, {"confirm": "1"}, follow=True)

    assert orphan.id in sandbox.state.connections
    assert any(f"Integration {taken.pk} holds it now" in m for m in messages_of(response))
    finding.refresh_from_db()
    assert finding.outcome == "settled"
    assert not ActionRecord.objects.filter(
        action="delete connection on Meeting BaaS", succeeded=True
    ).exists()


@pytest.mark.clock
def test_a_too_recent_orphan_waits_before_it_can_be_deleted(sandbox, credential, settings):
    settings.MEETINGBAAS_API_VERSION = "v1"
    # v1 gives no creation time: the run's own start is what the window counts from.
    orphan = sandbox.state.create("v1", account_for("google", "s", ALICE), TEAM)
    reconcile_now()
    finding = ReconciliationFinding.objects.get()
    assert finding.remote_created_at is None

    with pytest.raises(FindingRefused, match="too recent to judge"):
        delete_orphan(finding.pk, acting_user=None)
    assert orphan.id in sandbox.state.connections

    Reconciliation.objects.filter(pk=finding.run_id).update(
        started_at=timezone.now() - timedelta(minutes=11)
    )
    delete_orphan(finding.pk, acting_user=None)
    assert orphan.id not in sandbox.state.connections


@pytest.mark.parametrize("role", ["Support", "Auditor"])
def test_only_admins_run_reconciliations_adopt_or_delete(sandbox, credential, role_client, role):
    remote_only(sandbox)
    reconcile_now()
    finding = ReconciliationFinding.objects.get()
    client = role_client(role)

    run = client.post(reverse("admin:calendars_reconciliation_run"))
    adopt = client.post(reverse("admin:calendars_reconciliation_adopt", args=[finding.pk]))
    delete = client.post(
        reverse("admin:calendars_reconciliation_delete_orphan", args=[finding.pk]),
        {"confirm": "1"},
    )
    page = client.get(reverse("admin:calendars_reconciliation_change", args=[finding.run_id]))

    assert (run.status_code, adopt.status_code, delete.status_code) == (403, 403, 403)
    assert Reconciliation.objects.count() == 1
    finding.refresh_from_db()
    assert finding.outcome == "open"
    assert len(sandbox.state.connections) == 1
    assert page.status_code == 200 and "Delete on Meeting BaaS" not in page.content.decode()


def test_an_admin_runs_one_and_sees_its_counts_and_findings(
    sandbox, credential, admin_client, django_capture_on_commit_callbacks
):
    orphan = remote_only(sandbox)

    with django_capture_on_commit_callbacks(execute=True):
        started = admin_client.post(reverse("admin:calendars_reconciliation_run"))

    run = Reconciliation.objects.get()
    assert started.url == reverse("admin:calendars_reconciliation_change", args=[run.pk])
    assert run.finished_at is not None and run.started_by.username == "admin-user"
    response = admin_client.get(started.url)
    page = response.content.decode()
    assert str(orphan.id) in page and "Delete on Meeting BaaS" in page and "Adopt" in page
    assert response.context["run"].orphans == 1
    assert ActionRecord.objects.get(action="run reconciliation").succeeded
    listing = admin_client.get(reverse("admin:calendars_reconciliation_changelist"))
    assert "1 listed: 1 orphans, 0 ghosts, 0 drift" in listing.content.decode()


def test_the_dashboard_counts_the_open_orphans_and_links_their_run(
    sandbox, credential, role_client
):
    remote_only(sandbox)
    remote_only(sandbox, "alice.oncall@group.calendar.google.com")
    reconcile_now()
    run = reconcile_now()

    page = role_client("Support").get(reverse("admin:index")).content.decode()

    url = reverse("admin:calendars_reconciliation_change", args=[run.pk])
    assert f'<a href="{url}">2 orphan connections on Meeting BaaS</a>' in page
