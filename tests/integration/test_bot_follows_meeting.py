"""The bot follows its meeting: moved or re-addressed, its bot at Meeting BaaS matches it (read
back); cancelled or declined, it loses its bot; changed too close to the start, it is at risk."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from calendars.meetings import bots, risk
from calendars.models import BotAttempt, BotPolicy, Meeting
from tests.support.meetings import active_integration, add_event, deliver, sync, webhook


@pytest.fixture(params=["v2", "v1"])
def integration(request, sandbox, make_integration):
    return active_integration(make_integration, sandbox, request.param)


@pytest.fixture
def v2_integration(sandbox, make_integration):
    return active_integration(make_integration, sandbox, "v2")


@pytest.fixture
def v1_integration(sandbox, make_integration):
    return active_integration(make_integration, sandbox, "v1")


def with_bot(sandbox, integration, *, in_hours: float = 3) -> Meeting:
    """A meeting of the integration's calendar, mirrored, with its bot scheduled."""
    event_id = add_event(sandbox, integration, title="Board review", in_hours=in_hours)
    sync(integration)
    meeting = Meeting.objects.get(remote_event_id=event_id)
    (outcome,) = bots.schedule([meeting.pk], acting_user=None)
    assert outcome.succeeded, outcome.message
    return meeting


def change(client, sandbox, integration, meeting: Meeting, fields: dict) -> None:
    """Change the meeting in its calendar and deliver the webhook Meeting BaaS sends (the tasks
    it queues run as it commits)."""
    event_id = str(meeting.remote_event_id)
    sandbox.control("POST", f"events/{event_id}", fields)
    name = "calendar.event_cancelled" if fields.get("cancelled") else "calendar.event_updated"
    deliver(client, integration, webhook(sandbox, integration, name, [event_id]))


def held_bot(sandbox, meeting: Meeting) -> dict | None:
    """The meeting's bot as the sandbox holds it (when and where it joins), if it has one."""
    event = sandbox.state._event_by_id(str(meeting.remote_event_id))
    if event.bot is None:
        return None
    bot = sandbox.state.bot_of(uuid.UUID(str(meeting.remote_event_id)))
    return {"join_at": bot.starts_at, "meeting_url": bot.meeting_url}


def read_backs(sandbox, integration, meeting: Meeting) -> list[dict]:
    if integration.api_version == "v1":
        return sandbox.requests_to("GET", f"/calendar_events/{meeting.remote_event_id}")
    path = f"/v2/calendars/{integration.remote_id}/events/{meeting.remote_event_id}"
    return sandbox.requests_to("GET", path)


def follow_attempts(meeting: Meeting) -> list[BotAttempt]:
    return list(BotAttempt.objects.filter(meeting=meeting, action="follow").order_by("pk"))


def test_a_moved_meeting_keeps_a_bot_at_its_new_time_read_back(
    client, sandbox, integration, admin_client
):
    meeting = with_bot(sandbox, integration)
    later = (datetime.now(UTC) + timedelta(hours=5)).replace(microsecond=0)

    change(client, sandbox, integration, meeting, {"start": later.isoformat()})

    assert held_bot(sandbox, meeting)["join_at"] == later
    assert read_backs(sandbox, integration, meeting)
    meeting.refresh_from_db()
    assert meeting.starts_at == later and meeting.has_bot and meeting.bot_failure == ""
    (attempt,) = follow_attempts(meeting)
    assert attempt.succeeded and attempt.message.startswith("Read back at Meeting BaaS")
    page = admin_client.get(reverse("admin:calendars_meeting_change", args=[meeting.pk]))
    assert "Bot checked after the meeting changed" in page.content.decode()
    assert meeting.outcome == "scheduled" and "by system" in meeting.outcome_reason


def test_a_changed_meeting_url_gives_its_bot_the_new_url(client, sandbox, integration):
    meeting = with_bot(sandbox, integration)
    url = "https://us02web.zoom.us/j/5551234567"

    change(client, sandbox, integration, meeting, {"meeting_url": url})

    assert held_bot(sandbox, meeting)["meeting_url"] == url
    meeting.refresh_from_db()
    assert meeting.meeting_url == url and meeting.has_bot
    (attempt,) = follow_attempts(meeting)
    assert attempt.succeeded and url in attempt.message


def test_a_bot_lost_in_the_change_is_scheduled_again(client, sandbox, v2_integration):
    integration = v2_integration
    meeting = with_bot(sandbox, integration)
    later = (datetime.now(UTC) + timedelta(hours=6)).replace(microsecond=0)

    change(client, sandbox, integration, meeting, {"start": later.isoformat(), "keep_bot": False})

    assert held_bot(sandbox, meeting)["join_at"] == later
    meeting.refresh_from_db()
    assert meeting.has_bot and meeting.bot_failure == ""
    actions = list(BotAttempt.objects.filter(meeting=meeting).values_list("action", "succeeded"))
    assert actions.count(("schedule", True)) == 2 and ("follow", True) in actions


@pytest.mark.parametrize("fields", [{"cancelled": True}, {"declined": True}])
def test_a_cancelled_or_declined_meeting_loses_its_bot(client, sandbox, integration, fields):
    meeting = with_bot(sandbox, integration)

    change(client, sandbox, integration, meeting, fields)

    assert held_bot(sandbox, meeting) is None
    meeting.refresh_from_db()
    assert not meeting.has_bot
    assert meeting.is_cancelled if "cancelled" in fields else meeting.is_declined
    removal = BotAttempt.objects.get(meeting=meeting, action="remove")
    why = "The meeting was cancelled" if "cancelled" in fields else "The calendar's account"
    assert removal.succeeded and removal.message.startswith(why)
    assert meeting.outcome == "no_bot" and "removed" not in meeting.outcome_cause


def test_a_move_too_close_to_the_start_is_on_meetings_at_risk(
    client, sandbox, integration, admin_client
):
    meeting = with_bot(sandbox, integration, in_hours=0.1)  # starts in 6 minutes
    joins_at = held_bot(sandbox, meeting)["join_at"]
    sooner = datetime.now(UTC) + timedelta(minutes=2)

    change(client, sandbox, integration, meeting, {"start": sooner.isoformat()})

    # Meeting BaaS no longer changes a bot this close to its start: it keeps the old time.
    assert held_bot(sandbox, meeting)["join_at"] == joins_at
    meeting.refresh_from_db()
    assert meeting.bot_changed_late_at is not None and meeting.bot_failure == ""
    (attempt,) = follow_attempts(meeting)
    assert not attempt.succeeded and attempt.message.startswith("Changed too late")
    found = risk.find()
    assert meeting.pk in found.ids and found.by_rule[risk.Rule.CHANGED_TOO_LATE] == 1
    page = admin_client.get(reverse("admin:calendars_meeting_at_risk")).content.decode()
    assert "1 changed too late" in page
    assert "remove its bot and schedule it again" in page


def test_a_meeting_accepted_again_gets_its_bot_again_from_the_policy(
    client, sandbox, integration, customer
):
    BotPolicy.objects.create(customer=customer, mode=BotPolicy.Mode.RECORD_ALL, bot_name="Notes")
    meeting = with_bot(sandbox, integration)
    change(client, sandbox, integration, meeting, {"declined": True})
    assert held_bot(sandbox, meeting) is None

    change(client, sandbox, integration, meeting, {"declined": False})
    sync(integration)

    assert held_bot(sandbox, meeting) is not None
    meeting.refresh_from_db()
    assert meeting.has_bot and not meeting.is_declined


def test_a_move_the_window_sync_finds_is_followed_too(sandbox, v1_integration):
    integration = v1_integration  # a v1 deployment may take no webhooks
    meeting = with_bot(sandbox, integration)
    later = (datetime.now(UTC) + timedelta(hours=4)).replace(microsecond=0)
    sandbox.control("POST", f"events/{meeting.remote_event_id}", {"start": later.isoformat()})

    sync(integration)  # no webhook: the periodic listing brings the move

    (attempt,) = follow_attempts(meeting)
    assert attempt.succeeded and read_backs(sandbox, integration, meeting)
    assert held_bot(sandbox, meeting)["join_at"] == later
