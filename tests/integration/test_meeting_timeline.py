"""A meeting's page tells what happened to it (its outcome and timeline: synced, the bot
scheduled by whom, joined, recorded or failed, each with its time); a customer's page counts
its last 7 days' meetings recorded and missed by cause."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from calendars.meetings import outcomes
from calendars.models import BotAttempt, BotPolicy, Integration, Meeting, OAuthApp
from tests.support.seeding import integration_of


@pytest.fixture
def integration(db: None) -> Integration:
    app = OAuthApp.objects.create(provider="google", name="G", client_id="c", client_secret="s")
    return integration_of(app, "Acme Corp", "alice@acme.example")


def meeting(integration: Integration, *, days_ago: float = 1, **fields) -> Meeting:
    starts = timezone.now() - timedelta(days=days_ago)
    fields = {"meeting_url": "https://zoom.us/j/123", **fields}
    return Meeting.objects.create(
        integration=integration,
        remote_event_id=uuid.uuid4(),
        title="Quarterly review",
        starts_at=starts,
        ends_at=starts + timedelta(minutes=45),
        synced_at=starts - timedelta(hours=5),
        **fields,
    )


def scheduled(m: Meeting, action: str, username: str) -> None:
    BotAttempt.objects.create(
        meeting=m,
        integration=m.integration,
        remote_event_id=m.remote_event_id,
        meeting_starts_at=m.starts_at,
        action=action,
        username=username,
        succeeded=True,
    )
    BotAttempt.objects.filter(meeting=m, action=action).update(at=m.starts_at - timedelta(hours=2))


def page(admin_client, m: Meeting) -> str:
    outcomes.refresh([m.pk])
    response = admin_client.get(reverse("admin:calendars_meeting_change", args=[m.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_a_recorded_meeting_shows_who_scheduled_its_bot_and_when_it_joined(
    admin_client, integration
):
    m = meeting(integration, has_bot=True, bot_status="completed", bot_duration_seconds=2520)
    Meeting.objects.filter(pk=m.pk).update(
        bot_joined_at=m.starts_at + timedelta(minutes=1), bot_exited_at=m.ends_at
    )
    scheduled(m, BotAttempt.Action.SCHEDULE, "sam")

    text = page(admin_client, m)

    assert "<strong>Recorded</strong>: The bot joined and recorded for 42 min." in text
    timeline = text[text.index('class="timeline meeting-timeline"') :]
    order = ["Synced from the calendar", "Bot scheduled", "by sam", "Meeting began", "Bot joined"]
    positions = [timeline.index(words) for words in order]
    assert positions == sorted(positions)
    assert timeline.index("Meeting ended") < timeline.index("<td>Recorded</td>")


def test_a_failed_bot_shows_the_explanation_to_pass_on(admin_client, integration):
    m = meeting(
        integration,
        has_bot=True,
        bot_status="failed",
        bot_error_code="WAITING_ROOM_TIMEOUT",
        bot_status_at=timezone.now() - timedelta(days=1) + timedelta(minutes=10),
    )
    scheduled(m, BotAttempt.Action.POLICY, "bot policy")

    text = page(admin_client, m)

    assert "Bot failed (The bot failed in the meeting)" in text
    assert "by the bot policy" in text
    assert "nobody admitted it in time" in text


@pytest.mark.clock
def test_a_customer_page_counts_its_last_week_recorded_and_missed_by_cause(
    admin_client, integration
):
    BotPolicy.objects.create(
        customer=integration.credential.customer, mode=BotPolicy.Mode.RECORD_ALL
    )
    for _ in range(3):
        meeting(integration, has_bot=True, bot_status="completed", bot_duration_seconds=600)
    meeting(integration, meeting_url="")
    meeting(integration, meeting_url="", days_ago=2)
    meeting(integration, has_bot=True, bot_error_code="MEETING_NOT_FOUND")
    meeting(integration, meeting_url="", days_ago=9)  # more than a week ago
    outcomes.refresh(Meeting.objects.values_list("pk", flat=True))
    customer = integration.credential.customer

    text = admin_client.get(
        reverse("admin:calendars_customer_change", args=[customer.pk])
    ).content.decode()

    section = text[text.index('id="customer-week"') :]
    assert "<strong>3 recorded</strong>" in section
    assert "<strong>3 missed</strong>" in section
    assert "The bot failed in the meeting: 1; No meeting URL: 2." in section
