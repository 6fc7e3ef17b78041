"""Action records and status changes name their integration, linked, with the status it had
then: an auditor must not read "resync — On-call (Disconnected)" for a resync done in error."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from calendars.actions.audit import record_action
from calendars.actions.refresh import refresh_integration
from calendars.models import ActionRecord, Integration, StatusChange
from calendars.status import Cause, PortalStatus

ACTIONS = reverse("admin:calendars_actionrecord_changelist")
STATUS_CHANGES = reverse("admin:calendars_statuschange_changelist")


def move(integration: Integration, status: PortalStatus) -> None:
    integration.move_to(status, "", cause=Cause.REFRESH, user=None)
    integration.save()


def test_an_action_shows_the_status_its_integration_had_then(
    admin_client, admin_user, sandbox, make_integration
):
    integration = make_integration()
    move(integration, PortalStatus.ERROR)
    record_action(admin_user, "resync", succeeded=True, integration=integration)
    move(integration, PortalStatus.DISCONNECTED)

    html = admin_client.get(ACTIONS, {"q": "resync"}).content.decode()
    resync = ActionRecord.objects.get(action="resync")
    page = admin_client.get(
        reverse("admin:calendars_actionrecord_change", args=[resync.pk])
    ).content.decode()

    url = reverse("admin:calendars_integration_change", args=[integration.pk])
    assert f'<a href="{url}">Cal alice@example.com (Error)</a>' in html
    assert "(Disconnected)" not in html
    assert f'<a href="{url}">Cal alice@example.com (Error)</a>' in page


def test_a_status_change_shows_the_status_it_moved_to(admin_client, sandbox, make_integration):
    integration = make_integration()
    sandbox.force(integration.remote_id, status="error", status_message="boom")
    refresh_integration(integration.pk)
    move(Integration.objects.get(pk=integration.pk), PortalStatus.DISCONNECTED)

    html = admin_client.get(STATUS_CHANGES, {"to_status": "error"}).content.decode()

    url = reverse("admin:calendars_integration_change", args=[integration.pk])
    assert f'<a href="{url}">Cal alice@example.com (Error)</a>' in html
    assert "(Disconnected)" not in html


def test_the_lists_cost_the_same_queries_for_one_row_or_many(
    admin_client, admin_user, sandbox, make_integration
):
    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(url).status_code == 200
        return len(captured)

    first = make_integration()
    record_action(admin_user, "resync", succeeded=True, integration=first)
    few = (queries(ACTIONS), queries(STATUS_CHANGES))
    for calendar in ("alice.team", "alice.oncall"):
        other = make_integration(f"{calendar}@group.calendar.google.com")
        for status in (PortalStatus.ERROR, PortalStatus.ACTIVE, PortalStatus.ERROR):
            move(other, status)
            record_action(admin_user, "resync", succeeded=True, integration=other)

    many = (queries(ACTIONS), queries(STATUS_CHANGES))

    assert StatusChange.objects.count() == 9 and ActionRecord.objects.count() == 10
    assert many == few


def test_a_timeline_entry_naming_a_bulk_job_links_to_it(admin_client, sandbox, make_integration):
    integration = make_integration()
    admin_client.post(
        reverse("admin:calendars_integration_changelist"),
        {"action": "resync", "_selected_action": [integration.pk], "confirm": "yes"},
    )
    record = ActionRecord.objects.get(action="resync")
    job_id = record.message.removeprefix("queued in bulk job ")

    page = admin_client.get(
        reverse("admin:calendars_integration_change", args=[integration.pk])
    ).content.decode()
    actions = admin_client.get(ACTIONS).content.decode()

    job_url = reverse("admin:calendars_bulkjob_change", args=[job_id])
    assert f'queued in <a href="{job_url}">bulk job {job_id}</a>' in page
    assert f'queued in <a href="{job_url}">bulk job {job_id}</a>' in actions


def test_a_linked_message_is_still_escaped(admin_client, admin_user, credential):
    record_action(
        admin_user,
        "replace refresh token",
        succeeded=True,
        credential=credential,
        message='<img src=x onerror="alert(1)"> queued in bulk job 7 <b>',
    )

    html = admin_client.get(ACTIONS).content.decode()

    job_url = reverse("admin:calendars_bulkjob_change", args=[7])
    assert "<img src=x" not in html and "<b>" not in html
    assert f'&lt;img src=x onerror=&quot;alert(1)&quot;&gt; queued in <a href="{job_url}">' in html
