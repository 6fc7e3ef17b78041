"""Each meeting's outcome (calendars/meetings/outcomes.py): one test per state, and one per
cause of a missed meeting, each in the words support reads."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from calendars.meetings import outcomes
from calendars.models import BotAttempt, BotPolicy, Integration, Meeting, OAuthApp, StatusChange
from calendars.status import Cause as StatusCause
from tests.support.seeding import integration_of

pytestmark = pytest.mark.clock

Outcome = Meeting.Outcome
Cause = Meeting.Cause


@pytest.fixture
def integration(db: None) -> Integration:
    app = OAuthApp.objects.create(provider="google", name="G", client_id="c", client_secret="s")
    integration = integration_of(app, "Acme Corp", "alice@example.com")
    became(integration, "active", timezone.now() - timedelta(days=30))
    return integration


def became(integration: Integration, status: str, at) -> None:
    StatusChange.objects.create(
        integration=integration, to_status=status, changed_at=at, cause=StatusCause.REFRESH
    )
    Integration.objects.filter(pk=integration.pk).update(status=status)


def records_every_meeting(integration: Integration) -> None:
    BotPolicy.objects.create(
        customer=integration.credential.customer, mode=BotPolicy.Mode.RECORD_ALL
    )


def meeting(integration: Integration, *, hours_ago: float = 3, **fields) -> Meeting:
    starts = timezone.now() - timedelta(hours=hours_ago)
    fields = {"meeting_url": "https://meet.google.com/abc-defg-hij", **fields}
    return Meeting.objects.create(
        integration=integration,
        remote_event_id=uuid.uuid4(),
        title="Customer call",
        starts_at=starts,
        ends_at=starts + timedelta(minutes=30),
        synced_at=starts - timedelta(days=1),
        **fields,
    )


def judged(m: Meeting) -> Meeting:
    outcomes.refresh([m.pk])
    m.refresh_from_db()
    return m


def test_a_future_meeting_with_a_bot_is_scheduled_by_the_policy(integration):
    m = meeting(integration, hours_ago=-2, has_bot=True)
    BotAttempt.objects.create(
        meeting=m,
        integration=integration,
        remote_event_id=m.remote_event_id,
        meeting_starts_at=m.starts_at,
        action=BotAttempt.Action.POLICY,
        username="bot policy",
        succeeded=True,
    )

    m = judged(m)

    assert (m.outcome, m.outcome_cause) == (Outcome.SCHEDULED, "")
    assert m.outcome_reason == "A bot is scheduled by the bot policy."


@pytest.mark.parametrize("code", ["joining_call", "in_waiting_room"])
def test_a_bot_joining_or_in_the_waiting_room_is_joining(integration, code):
    now = timezone.now()
    m = meeting(integration, hours_ago=0.1, has_bot=True, bot_status=code, bot_status_at=now)

    m = judged(m)

    assert (m.outcome, m.outcome_at) == (Outcome.JOINING, now)
    if code == "in_waiting_room":
        assert "waiting room: someone in the meeting must admit it" in m.outcome_reason


def test_a_bot_in_the_call_recording_is_recording(integration):
    m = judged(meeting(integration, hours_ago=0.1, has_bot=True, bot_status="in_call_recording"))

    assert m.outcome == Outcome.RECORDING


def test_a_completed_bot_recorded_for_its_duration(integration):
    m = meeting(integration, has_bot=True)
    m.bot_status, m.bot_joined_at = "completed", m.starts_at
    m.bot_exited_at, m.bot_duration_seconds = m.ends_at, 29 * 60
    m.save()

    m = judged(m)

    assert (m.outcome, m.outcome_at) == (Outcome.RECORDED, m.bot_exited_at)
    assert m.outcome_reason == "The bot joined and recorded for 29 min."


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("MEETING_NOT_FOUND", "The meeting link led to no meeting"),
        ("BOT_NOT_ACCEPTED", "Ask the host to admit the bot"),
        ("WAITING_ROOM_TIMEOUT", "raise the policy's waiting-room timeout"),
        ("DAILY_BOT_CAP_REACHED", "plan had used up its bots for the day"),
        ("SOMETHING_NEW", "The bot failed (SOMETHING_NEW)."),
    ],
)
def test_a_failed_bot_is_explained_with_what_the_customer_can_do(integration, code, words):
    m = judged(
        meeting(
            integration,
            has_bot=True,
            bot_status="failed",
            bot_error_code=code,
            bot_error_message="as Meeting BaaS put it",
        )
    )

    assert (m.outcome, m.outcome_cause) == (Outcome.BOT_FAILED, Cause.BOT_ERROR)
    assert words in m.outcome_reason
    assert m.outcome_reason.endswith("Meeting BaaS said: as Meeting BaaS put it")


def test_a_meeting_whose_bot_nobody_heard_of_after_it_ended_is_no_news(integration):
    m = judged(meeting(integration, has_bot=True))

    assert (m.outcome, m.outcome_at) == (Outcome.NO_NEWS, m.ends_at)
    assert "Meeting BaaS has said nothing of its bot yet" in m.outcome_reason


def test_no_bot_because_the_policy_does_not_record_it(integration):
    m = judged(meeting(integration))

    assert (m.outcome, m.outcome_cause) == (Outcome.NO_BOT, Cause.POLICY)
    assert "does not record every meeting, and nobody scheduled its bot" in m.outcome_reason


def test_no_bot_because_it_has_no_meeting_url(integration):
    records_every_meeting(integration)

    m = judged(meeting(integration, meeting_url=""))

    assert (m.outcome, m.outcome_cause) == (Outcome.NO_BOT, Cause.NO_URL)


def test_no_bot_because_the_calendar_was_broken_at_the_time_though_fixed_since(integration):
    records_every_meeting(integration)
    m = meeting(integration, hours_ago=5)
    became(integration, "error", m.starts_at - timedelta(hours=1))
    became(integration, "active", m.starts_at + timedelta(hours=2))

    m = judged(m)

    assert (m.outcome, m.outcome_cause) == (Outcome.NO_BOT, Cause.CALENDAR_BROKEN)
    assert m.outcome_reason.startswith("Its calendar connection was in error when it began")


def test_a_calendar_broken_only_after_the_meeting_is_not_its_cause(integration):
    records_every_meeting(integration)
    m = meeting(integration, hours_ago=5)
    became(integration, "error", m.ends_at + timedelta(minutes=5))

    m = judged(m)

    assert (m.outcome, m.outcome_cause) == (Outcome.NO_BOT, Cause.NOT_ASKED)


def test_no_bot_because_a_person_removed_it(integration):
    records_every_meeting(integration)
    m = meeting(integration)
    for action in (BotAttempt.Action.POLICY, BotAttempt.Action.REMOVE):
        BotAttempt.objects.create(
            meeting=m,
            integration=integration,
            remote_event_id=m.remote_event_id,
            meeting_starts_at=m.starts_at,
            action=action,
            username="sam" if action == BotAttempt.Action.REMOVE else "bot policy",
            succeeded=True,
        )

    m = judged(m)

    assert (m.outcome, m.outcome_cause) == (Outcome.NO_BOT, Cause.REMOVED)
    assert m.outcome_reason == "sam removed its bot."


def test_no_bot_because_the_meeting_was_cancelled(integration):
    m = judged(meeting(integration, is_cancelled=True, has_bot=True))

    assert (m.outcome, m.outcome_cause) == (Outcome.NO_BOT, Cause.CANCELLED)


def test_no_bot_because_meeting_baas_refused_it(integration):
    records_every_meeting(integration)

    m = judged(meeting(integration, bot_failure="bot_limit_reached: 75 bots a day"))

    assert (m.outcome, m.outcome_cause) == (Outcome.NO_BOT, Cause.REFUSED)
    assert m.outcome_reason.endswith("bot_limit_reached: 75 bots a day")


def test_the_periodic_pass_settles_meetings_that_just_ended_and_then_leaves_them(integration):
    m = meeting(integration, hours_ago=-1, has_bot=True)
    outcomes.refresh([m.pk])
    assert Meeting.objects.get(pk=m.pk).outcome == Outcome.SCHEDULED
    after_end = m.ends_at + timedelta(minutes=1)

    assert outcomes.settle(after_end) == 1
    assert outcomes.settle(after_end + timedelta(minutes=5)) == 0

    m.refresh_from_db()
    assert (m.outcome, m.outcome_at) == (Outcome.NO_NEWS, m.ends_at)


def test_the_periodic_pass_judges_meetings_never_judged(integration):
    m = meeting(integration, hours_ago=-30)

    outcomes.settle()

    assert Meeting.objects.get(pk=m.pk).outcome == Outcome.NO_BOT
