"""The meetings list's bot actions, through their confirmation pages, by role."""

from __future__ import annotations

import pytest
from django.urls import reverse

from calendars.models import BotAttempt, BotPolicy, Integration, Meeting
from tests.support.meetings import active_integration, add_event, deliver, sync, webhook

CHANGELIST = reverse("admin:calendars_meeting_changelist")


@pytest.fixture
def policy(customer):
    return BotPolicy.objects.create(customer=customer, bot_name="Acme notes")


def a_meeting(client, sandbox, make_integration, version: str = "v2", **event) -> Meeting:
    integration = active_integration(make_integration, sandbox, version)
    event_id = add_event(sandbox, integration, **event)
    deliver(
        client, integration, webhook(sandbox, integration, "calendar.event_created", [event_id])
    )
    return Meeting.objects.get(remote_event_id=event_id)


def run(client, action: str, meeting: Meeting, *, confirm: bool = True):
    data = {"action": action, "_selected_action": [meeting.pk]}
    return client.post(CHANGELIST, data | ({"confirm": "1"} if confirm else {}), follow=True)


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_support_schedules_a_bot_after_confirming(
    role_client, sandbox, make_integration, policy, version
):
    client = role_client("Support")
    meeting = a_meeting(client, sandbox, make_integration, version, title="Kick-off")

    confirmation = run(client, "schedule_bot", meeting, confirm=False)
    assert b"Kick-off" in confirmation.content and b"Yes, go ahead" in confirmation.content
    assert not Meeting.objects.get(pk=meeting.pk).has_bot

    done = run(client, "schedule_bot", meeting)

    meeting.refresh_from_db()
    assert meeting.has_bot and meeting.bot_summary.startswith("Acme notes")
    assert b"Kick-off: Done." in done.content
    attempt = BotAttempt.objects.get()
    assert (attempt.action, attempt.username, attempt.succeeded) == (
        "schedule",
        "support-user",
        True,
    )
    page = client.get(reverse("admin:calendars_meeting_change", args=[meeting.pk]))
    assert b"support-user" in page.content and b"Schedule bot" in page.content


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_scheduling_a_meeting_that_has_its_bot_already_changes_nothing(
    role_client, sandbox, make_integration, policy, version
):
    client = role_client("Support")
    meeting = a_meeting(client, sandbox, make_integration, version)
    run(client, "schedule_bot", meeting)
    # The mirror has not heard of the bot yet (v1 answers 409, v2 BOT_ALREADY_SCHEDULED).
    Meeting.objects.filter(pk=meeting.pk).update(has_bot=False)

    done = run(client, "schedule_bot", meeting)

    assert b"A bot was already scheduled." in done.content
    assert Meeting.objects.get(pk=meeting.pk).has_bot


@pytest.mark.clock
def test_every_occurrence_of_a_series_gets_its_bot_in_one_request(
    role_client, sandbox, make_integration, policy
):
    client = role_client("Support")
    integration = active_integration(make_integration, sandbox, "v2")
    sync(integration)
    standups = Meeting.objects.filter(title="Team standup", starts_at__gt=policy.updated_at)
    first = standups.first()

    run(client, "schedule_bot_series", first)

    requests = sandbox.requests_to("POST", f"/v2/calendars/{integration.remote_id}/bots")
    assert len(requests) == 1 and requests[0]["json"]["all_occurrences"] is True
    assert standups.count() > 1 and not standups.filter(has_bot=False).exists()


def test_changing_bot_settings_sends_the_policys_settings_now(
    role_client, sandbox, make_integration, policy
):
    client = role_client("Support")
    meeting = a_meeting(client, sandbox, make_integration)
    run(client, "schedule_bot", meeting)
    BotPolicy.objects.filter(pk=policy.pk).update(bot_name="Renamed notes")

    run(client, "change_bot_settings", meeting)

    patch = sandbox.requests_to("PATCH", f"/v2/calendars/{meeting.integration.remote_id}/bots")
    assert patch[-1]["json"]["bot_name"] == "Renamed notes"
    meeting.refresh_from_db()
    assert meeting.bot_summary.startswith("Renamed notes")


def test_removing_a_bot_cancels_it(role_client, sandbox, make_integration, policy):
    client = role_client("Support")
    meeting = a_meeting(client, sandbox, make_integration, "v1")
    run(client, "schedule_bot", meeting)

    run(client, "remove_bot", meeting)

    meeting.refresh_from_db()
    assert not meeting.has_bot
    assert sandbox.requests_to("DELETE", f"/calendar_events/{meeting.remote_event_id}/bot")
    # Its outcome says so at once: who removed it.
    assert (meeting.outcome, meeting.outcome_cause) == ("no_bot", "removed")
    assert meeting.outcome_reason == "support-user removed its bot."


def test_an_auditor_is_offered_no_bot_action_and_a_direct_post_does_nothing(
    role_client, sandbox, make_integration, policy
):
    client = role_client("Auditor")
    meeting = a_meeting(client, sandbox, make_integration)

    listing = client.get(CHANGELIST)
    for action in ("schedule_bot", "schedule_bot_series", "change_bot_settings", "remove_bot"):
        assert f'value="{action}"'.encode() not in listing.content
        run(client, action, meeting)

    assert sandbox.requests_to("POST", f"/v2/calendars/{meeting.integration.remote_id}/bots") == []
    assert not BotAttempt.objects.exists()
    page = client.get(reverse("admin:calendars_meeting_change", args=[meeting.pk]))
    assert page.status_code == 200 and b'id="bot-schedule_bot"' not in page.content
    at_risk = client.get(reverse("admin:calendars_meeting_at_risk"))
    assert at_risk.status_code == 200 and b'value="schedule_bot"' not in at_risk.content
    assert client.get(reverse("admin:calendars_botpolicy_add")).status_code == 403


def test_the_meetings_list_filters_and_searches(role_client, sandbox, make_integration, policy):
    client = role_client("Auditor")
    meeting = a_meeting(client, sandbox, make_integration, title="Unique board review")
    Meeting.objects.exclude(pk=meeting.pk).delete()

    for query in (
        {"q": "board rev"},
        {"q": "alice@"},
        {"q": "Acme"},
        {"starts": "next_24h"},
        {"has_url": "yes"},
        {"has_bot__exact": "0"},
        {"platform__exact": "google_meet"},
        {"integration_status": "active"},
        {"customer": str(meeting.integration.credential.customer_id)},
    ):
        page = client.get(CHANGELIST, query)
        assert page.status_code == 200 and b"Unique board review" in page.content, query
    for query in ({"q": "nothing like it"}, {"starts": "past_day"}, {"has_url": "no"}):
        assert b"Unique board review" not in client.get(CHANGELIST, query).content, query


def test_the_transcription_key_is_stored_encrypted_and_never_shown(role_client, customer):
    client = role_client("Admin")  # the key says where transcripts go: an Admin's to set

    client.post(
        reverse("admin:calendars_botpolicy_add"),
        {
            "customer": customer.pk,
            "mode": "record_all",
            "bot_scope": "customer",
            "bot_name": "Acme notes",
            "recording_mode": "speaker_view",
            "transcription_enabled": "on",
            "transcription_api_key": "gladia-secret-key",
        },
    )

    policy = BotPolicy.objects.get()
    assert policy.transcription_api_key.reveal() == "gladia-secret-key"
    assert policy.bot_config().transcription_api_key == "gladia-secret-key"
    page = client.get(reverse("admin:calendars_botpolicy_change", args=[policy.pk]))
    assert page.status_code == 200 and b"gladia-secret-key" not in page.content


def test_the_integration_page_lists_its_next_meetings(role_client, sandbox, make_integration):
    client = role_client("Auditor")
    meeting = a_meeting(client, sandbox, make_integration, title="Design review", in_hours=1)

    page = client.get(reverse("admin:calendars_integration_change", args=[meeting.integration_id]))

    assert b"Next meetings" in page.content and b"Design review" in page.content
    assert reverse("admin:calendars_meeting_change", args=[meeting.pk]).encode() in page.content
    # In the page's content, above its Close button, not below it.
    html = page.content.decode()
    assert html.index("Next meetings") < html.index('class="submit-row"')


def test_a_meeting_whose_calendar_is_not_active_offers_its_fix_not_a_bot(
    role_client, sandbox, make_integration, policy
):
    client = role_client("Support")
    meeting = a_meeting(client, sandbox, make_integration, title="Board review")
    Integration.objects.filter(pk=meeting.integration_id).update(status="error")

    page = client.get(reverse("admin:calendars_meeting_change", args=[meeting.pk])).content

    assert b'id="bot-blocked"' in page
    assert b"calendar connection is not active (status: Error)" in page
    integration_url = reverse("admin:calendars_integration_change", args=[meeting.integration_id])
    assert integration_url.encode() in page
    assert b'id="bot-schedule_bot"' not in page
