"""Meetings at risk in the next AT_RISK_HOURS: one test per rule, each saying why in plain words."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from calendars.actions.integrations import recreate_integration
from calendars.actions.refresh import refresh_integration
from calendars.models import BotPolicy, Integration, Meeting
from tests.support.meetings import active_integration, add_event, deliver, webhook

AT_RISK = reverse("admin:calendars_meeting_at_risk")


@pytest.fixture
def integration(sandbox, make_integration):
    return active_integration(make_integration, sandbox, "v2")


@pytest.fixture
def policy(customer):
    return BotPolicy.objects.create(customer=customer, mode=BotPolicy.Mode.SCHEDULED_ONLY)


def mirrored(client, sandbox, integration, **event) -> Meeting:
    event_id = add_event(sandbox, integration, **event)
    deliver(
        client, integration, webhook(sandbox, integration, "calendar.event_created", [event_id])
    )
    return Meeting.objects.get(remote_event_id=event_id)


def rows(admin_client) -> str:
    page = admin_client.get(AT_RISK)
    assert page.status_code == 200
    return page.content.decode()


def test_a_meeting_of_an_integration_not_active_is_at_risk(
    admin_client, sandbox, integration, policy
):
    mirrored(admin_client, sandbox, integration, title="Sales review")
    Integration.objects.filter(pk=integration.pk).update(status="error")

    page = rows(admin_client)

    assert "Sales review" in page
    assert "Its calendar connection is in error: Meeting BaaS cannot send a bot" in page
    assert reverse("admin:calendars_integration_change", args=[integration.pk]) in page


@pytest.mark.parametrize(
    ("status", "words"),
    [
        ("error", "is in error"),
        ("disconnected", "is disconnected"),
        ("syncing", "is still syncing for the first time"),
    ],
)
def test_the_status_of_a_calendar_not_active_is_worded_as_a_person_would(
    admin_client, sandbox, integration, policy, status, words
):
    mirrored(admin_client, sandbox, integration, title="Sales review")
    Integration.objects.filter(pk=integration.pk).update(status=status)

    page = rows(admin_client)

    assert f"Its calendar connection {words}:" in page


def test_a_calendar_not_active_is_fixed_first_no_bot_is_offered_through_it(
    admin_client, sandbox, integration, policy
):
    mirrored(admin_client, sandbox, integration, title="Pipeline review")
    BotPolicy.objects.filter(pk=policy.pk).update(mode=BotPolicy.Mode.RECORD_ALL)
    Integration.objects.filter(pk=integration.pk).update(status="error")

    page = rows(admin_client)

    assert "records every meeting, but no bot is scheduled" in page
    assert 'value="schedule_bot"' not in page
    fix = reverse("admin:calendars_integration_change", args=[integration.pk])
    assert page.index(f'href="{fix}"') < page.index("Open the meeting")


def test_the_summary_counts_each_meeting_once_and_adds_up(
    admin_client, sandbox, integration, make_integration, policy
):
    mirrored(admin_client, sandbox, integration, title="Pipeline review")
    other = refresh_integration(make_integration("alice.team@group.calendar.google.com").pk)
    mirrored(admin_client, sandbox, other, title="Team sync")
    BotPolicy.objects.filter(pk=policy.pk).update(mode=BotPolicy.Mode.RECORD_ALL)
    Integration.objects.filter(pk=integration.pk).update(status="error")

    page = rows(admin_client)

    # Pipeline review has both reasons, Team sync only the second: 1 + 1 = 2.
    assert (
        "2 meetings in the next 24 h may go without a bot</strong>: "
        "1 calendar connection not active; "
        "1 no bot although the policy records every meeting (each meeting counted once" in page
    )


def test_each_row_names_its_calendar_not_only_the_account(
    admin_client, sandbox, integration, make_integration, policy
):
    mirrored(admin_client, sandbox, integration, title="Pipeline review")
    other = refresh_integration(make_integration("alice.team@group.calendar.google.com").pk)
    mirrored(admin_client, sandbox, other, title="Team sync")
    Integration.objects.filter(pk__in=[integration.pk, other.pk]).update(status="error")

    page = rows(admin_client)

    assert "Cal alice@example.com (alice@example.com)" in page
    assert "Cal alice.team@group.calendar.google.com (alice@example.com)" in page


def test_a_recreated_calendars_old_meetings_are_not_at_risk_beside_the_new_copies(
    admin_client, sandbox, integration, policy
):
    mirrored(admin_client, sandbox, integration, title="Sales review")
    sandbox.control("POST", "reset")
    refresh_integration(integration.pk)  # gone remotely: disconnected
    new = recreate_integration(integration.pk)
    assert new.raw_calendar_id == integration.raw_calendar_id and new.pk != integration.pk

    page = rows(admin_client)

    assert "Sales review" not in page
    assert "is disconnected" not in page


def test_a_meeting_the_policy_records_without_a_bot_is_at_risk(
    admin_client, sandbox, integration, policy
):
    mirrored(admin_client, sandbox, integration, title="Pipeline review")
    BotPolicy.objects.filter(pk=policy.pk).update(mode=BotPolicy.Mode.RECORD_ALL)

    page = rows(admin_client)

    assert "Pipeline review" in page
    assert "records every meeting, but no bot is scheduled" in page
    assert 'value="schedule_bot"' in page


def test_a_meeting_whose_bot_failed_is_at_risk_with_the_apis_reason(
    admin_client, sandbox, integration, policy
):
    BotPolicy.objects.filter(pk=policy.pk).update(mode=BotPolicy.Mode.RECORD_ALL)
    sandbox.fault("POST", f"/v2/calendars/{integration.remote_id}/bots", "status", status=400)
    mirrored(admin_client, sandbox, integration, title="Hiring panel")

    page = rows(admin_client)

    assert "Hiring panel" in page
    assert "Scheduling its bot failed" in page and "HTTP 400" in page


def test_a_meeting_without_a_url_under_record_every_meeting_is_at_risk(
    admin_client, sandbox, integration, policy
):
    BotPolicy.objects.filter(pk=policy.pk).update(mode=BotPolicy.Mode.RECORD_ALL)
    mirrored(admin_client, sandbox, integration, title="Hallway chat", meeting_url=None)

    page = rows(admin_client)

    assert "Hallway chat" in page
    assert "no meeting URL, so no bot can join" in page
    assert "alice@example.com" in page


def test_a_meeting_whose_calendar_synced_long_ago_is_at_risk(
    admin_client, sandbox, integration, policy
):
    mirrored(admin_client, sandbox, integration, title="Roadmap")
    Integration.objects.filter(pk=integration.pk).update(
        synced_at=timezone.now() - timedelta(hours=7)
    )

    page = rows(admin_client)

    assert "Roadmap" in page
    assert "Meeting BaaS last synced its calendar 7 h ago" in page


def test_a_meeting_with_what_it_needs_or_far_ahead_is_not_at_risk(
    admin_client, sandbox, integration, policy
):
    BotPolicy.objects.filter(pk=policy.pk).update(mode=BotPolicy.Mode.RECORD_ALL)
    # Scheduled by the policy as it arrives.
    covered = mirrored(admin_client, sandbox, integration, title="Covered")
    mirrored(admin_client, sandbox, integration, title="Next week", in_hours=24 * 6)

    page = rows(admin_client)

    covered.refresh_from_db()
    assert covered.has_bot
    assert "Covered" not in page and "Next week" not in page
    assert "No meeting in the next 24 h is at risk." in page


def test_the_home_page_counts_the_meetings_at_risk(admin_client, sandbox, integration, policy):
    BotPolicy.objects.filter(pk=policy.pk).update(mode=BotPolicy.Mode.RECORD_ALL)
    mirrored(admin_client, sandbox, integration, title="Hallway chat", meeting_url=None)

    home = admin_client.get(reverse("admin:index")).content.decode()

    assert "Meetings at risk, next 24 h" in home
    assert "1 meeting may go without a bot" in home and "1 no meeting URL" in home
    assert AT_RISK in home
