"""Labels in the domain's spelling, one date format with its time zone, statuses capitalised
alike, e-mail addresses as written, and worker hosts only when several shared a job."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from calendars.actions.refresh import refresh_integration
from calendars.models import BulkJob, BulkJobItem, RawCalendar, StatusChange
from tests.support.consent import token_of


def when_in_time_zone() -> re.Pattern:
    """A time as the admin writes it, named by TIME_ZONE's name for now or an hour ago."""
    moment = timezone.localtime()
    names = {moment.tzname(), timezone.localtime(moment - timedelta(hours=1)).tzname()}
    return re.compile(rf"\d{{4}}-\d\d-\d\d \d\d:\d\d ({'|'.join(map(re.escape, names))})")


def page(client, name: str, *args: object) -> str:
    response = client.get(reverse(f"admin:calendars_{name}", args=args))
    assert response.status_code == 200, name
    return response.content.decode()


@pytest.mark.clock
def test_times_are_written_one_way_with_their_time_zone(admin_client, make_integration):
    integration = make_integration()

    html = page(admin_client, "actionrecord_changelist")
    change = page(admin_client, "integration_change", integration.pk)

    when = when_in_time_zone()
    assert when.search(html) and when.search(change)
    assert "a.m." not in html + change and "p.m." not in html + change


def test_labels_use_the_domains_spelling(admin_client, make_integration, google_app):
    make_integration()

    assert ">Time</a>" in page(admin_client, "actionrecord_changelist")
    assert "Client ID" in page(admin_client, "oauthapp_change", google_app.pk)
    integrations = page(admin_client, "integration_changelist")
    assert "API version" in integrations and "Api version" not in integrations


def test_oauth_is_spelled_as_its_owners_spell_it(admin_client, credential, make_integration):
    make_integration()

    credentials = page(admin_client, "credential_changelist")
    form = page(admin_client, "credential_change", credential.pk)
    records = page(admin_client, "actionrecord_changelist")

    for html in (credentials, form, records):
        assert "OAuth app" in html and "Oauth app" not in html


def test_a_count_says_one_or_many_without_brackets(admin_client, sandbox, credential):
    response = admin_client.post(
        reverse("admin:calendars_credential_changelist"),
        {"action": "list_raw_calendars", "_selected_action": [credential.pk]},
        follow=True,
    )
    form = page(admin_client, "credential_change", credential.pk)

    assert "3 calendars listed" in response.content.decode() + form
    assert "(s)" not in response.content.decode() + form


def test_a_customer_name_ending_in_s_takes_only_an_apostrophe(
    admin_client, person, customer, google_app, providers
):
    customer.name = "Northwind Traders"
    customer.save()
    response = admin_client.post(
        reverse("admin:calendars_consentlink_connect", args=[customer.pk]),
        {"oauth_apps": [google_app.pk], "create_integrations": "none"},
    )
    url = re.search(r'id="consent-url"[^>]*>([^<]+)<', response.content.decode()).group(1)

    done = person.come_back(person.consent(person.start(token_of(url), "google")))

    text = unescape(done.content.decode())
    assert "Northwind Traders' calendar access" in text and "Traders's" not in text


def test_primary_is_a_plain_yes_or_no(admin_client, credential, make_integration):
    primary = make_integration().raw_calendar
    RawCalendar.objects.filter(pk=primary.pk).update(is_primary=True)
    raw = make_integration("alice.team@group.calendar.google.com").raw_calendar

    listing = page(admin_client, "rawcalendar_changelist")
    detail = page(admin_client, "rawcalendar_change", raw.pk)

    assert '<td class="field-primary">Yes</td>' in listing
    assert '<td class="field-primary">No</td>' in listing
    assert "By primary" in listing and "By is primary" not in listing
    assert "icon-no.svg" not in listing + detail
    assert '<div class="readonly">No</div>' in detail


def test_statuses_are_capitalised_as_in_the_lists(admin_client, make_integration):
    integration = make_integration()
    job = BulkJob.objects.create(kind="resync", description="1 integration of Acme Corp")
    BulkJobItem.objects.create(
        job=job, integration=integration, state="done", status_before="error", status_after="active"
    )

    html = page(admin_client, "bulkjob_change", job.pk)
    raw_list = page(admin_client, "rawcalendar_changelist")

    assert "<td>Error</td>" in html and "<td>Active</td>" in html
    assert ">Syncing</a>" in raw_list


def test_an_account_e_mail_keeps_its_case_in_messages(admin_client, sandbox, credential):
    credential.refresh_token = "revoked:alice@example.com"
    credential.save()

    response = admin_client.post(
        reverse("admin:calendars_credential_changelist"),
        {"action": "list_raw_calendars", "_selected_action": [credential.pk]},
    )

    html = response.content.decode()
    assert '<li class="error">alice@example.com:' in html
    assert "Alice@example.com" not in html


def test_one_host_is_not_named_on_the_job_page(admin_client, make_integration):
    job = BulkJob.objects.create(kind="resync", description="2 integrations of Acme Corp")
    for integration in (
        make_integration(),
        make_integration("alice.team@group.calendar.google.com"),
    ):
        BulkJobItem.objects.create(
            job=job, integration=integration, state="done", worked_by=settings.NODE_NAME
        )

    html = page(admin_client, "bulkjob_change", job.pk)

    assert "Worker host" not in html and "Worked on by" not in html


def test_several_hosts_are_named_on_the_job_page(admin_client, make_integration):
    job = BulkJob.objects.create(kind="resync", description="2 integrations of Acme Corp")
    for host, integration in (
        ("host-a", make_integration()),
        ("host-b", make_integration("alice.team@group.calendar.google.com")),
    ):
        BulkJobItem.objects.create(job=job, integration=integration, state="done", worked_by=host)

    html = page(admin_client, "bulkjob_change", job.pk)

    assert "<th>Worker host</th>" in html
    assert "<td>host-a</td>" in html and "<td>host-b</td>" in html
    assert "Worker hosts: host-a (1 item), host-b (1 item)." in html


def test_custom_pages_carry_the_admins_breadcrumbs(admin_client, make_integration):
    integration = make_integration()
    job = BulkJob.objects.create(kind="resync", description="1 integration of Acme Corp")
    BulkJobItem.objects.create(job=job, integration=integration)
    confirm = admin_client.post(
        reverse("admin:calendars_integration_changelist"),
        {"action": "resync", "_selected_action": [integration.pk]},
    )

    for html in (
        page(admin_client, "bulkjob_change", job.pk),
        page(admin_client, "history_export"),
        confirm.content.decode(),
    ):
        crumbs = re.search(r'<ol class="breadcrumbs">(.*?)</ol>', html, re.S).group(1)
        assert "Home</a>" in crumbs and "Calendar integrations</a>" in crumbs


def test_status_changes_and_remote_statuses_read_as_the_lists_spell_statuses(
    admin_client, sandbox, make_integration
):
    integration = make_integration()
    sandbox.force(integration.remote_id, status="error", status_message="boom")
    refresh_integration(integration.pk)
    to_error = StatusChange.objects.get(to_status="error")

    changes = page(admin_client, "statuschange_changelist")
    change = page(admin_client, "statuschange_change", to_error.pk)
    detail = page(admin_client, "integration_change", integration.pk)

    assert '<td class="field-from_status_label">Syncing</td>' in changes
    assert '<td class="field-to_status_label">Error</td>' in changes
    assert '<td class="field-from_status_label">-</td>' in changes  # the first has no "from"
    assert '<a href="?to_status=error">Error</a>' in changes
    assert '<div class="readonly">Syncing</div>' in change
    assert '<div class="readonly">Error</div>' in change
    remote = re.search(
        r'field-remote_status_label">.*?<div class="readonly">(.*?)</div>', detail, re.S
    )
    assert remote.group(1) == "Error"
