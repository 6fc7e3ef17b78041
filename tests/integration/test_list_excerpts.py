"""A long message shows in a list by its start (a longer start on hover, escaped), whole on
its row's own page, so that lists fit their window and stay light."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from calendars.actions.audit import record_action
from calendars.admin.common import EXCERPT_CHARS, HOVER_CHARS
from calendars.models import ActionRecord, Integration, RefreshRun

# Markup in it must reach the page as text, cut or whole.
LONG = " ".join(["invalid_grant: <b>Token</b> has been expired or revoked."] * 40)


def get(client, name: str, *args: object) -> str:
    response = client.get(reverse(f"admin:calendars_{name}", args=args))
    assert response.status_code == 200, name
    return response.content.decode()


def cut_to(text: str, length: int) -> str:
    return escape(text[: length - 1] + "…")


def assert_cut_in_list_and_whole_on_page(listing: str, page: str, text: str) -> None:
    assert len(text) > HOVER_CHARS
    assert f'<span title="{cut_to(text, HOVER_CHARS)}">{cut_to(text, EXCERPT_CHARS)}</span>' in (
        listing
    )
    assert escape(text) not in listing and "<b>" not in listing
    assert escape(text) in page


def test_the_integrations_list_shows_the_start_of_meeting_baas_message(
    admin_client, sandbox, make_integration
):
    integration = make_integration()
    Integration.objects.filter(pk=integration.pk).update(status="error", error_message=LONG)

    listing = get(admin_client, "integration_changelist")
    page = get(admin_client, "integration_change", integration.pk)

    assert "Refresh token refused or revoked<br><small><span title=" in listing  # its problem
    assert_cut_in_list_and_whole_on_page(listing, page, LONG)


def test_the_action_records_list_shows_the_start_of_a_message_with_its_job_linked(
    admin_client, admin_user
):
    message = f"queued in bulk job 7; {LONG}"
    record_action(admin_user, "replace refresh token", succeeded=False, message=message)
    record = ActionRecord.objects.get()

    listing = get(admin_client, "actionrecord_changelist")
    page = get(admin_client, "actionrecord_change", record.pk)

    job_url = reverse("admin:calendars_bulkjob_change", args=[7])
    assert f'queued in <a href="{job_url}">bulk job 7</a>; invalid_grant: &lt;b&gt;' in listing
    assert escape(record.message) not in listing and "<b>" not in listing
    assert escape(record.message.removeprefix("queued in bulk job 7; ")) in page


def test_the_refresh_runs_list_shows_the_start_of_an_error(admin_client):
    now = timezone.now()
    run = RefreshRun.objects.create(api_version="v2", started_at=now, finished_at=now, error=LONG)

    listing = get(admin_client, "refreshrun_changelist")
    page = get(admin_client, "refreshrun_change", run.pk)

    assert_cut_in_list_and_whole_on_page(listing, page, LONG)


def test_a_short_message_is_shown_as_it_is(admin_client, admin_user):
    record_action(admin_user, "resync", succeeded=True, message="a <short> one")

    listing = get(admin_client, "actionrecord_changelist")

    assert '<td class="field-message_excerpt">a &lt;short&gt; one</td>' in listing
