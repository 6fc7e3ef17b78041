"""A bot the policy asked for, whose task stopped before it wrote the answer, is asked again:
never a second bot, never one a person removed, never one for a copy another copy covers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import F
from django.urls import reverse

from calendars.meetings import bots
from calendars.models import BotAttempt, BotPolicy, Meeting
from calendars.tasks import apply_bot_policy, ask_lost_bots_again
from tests.integration.test_bot_policy import bot_requests
from tests.support.meetings import active_integration, add_event, sync
from tests.support.shared_meetings import bots_at_sandbox, colleagues, share_meeting


class Killed(BaseException):
    """The worker's process ends in mid-task (past Q_TIMEOUT, or its machine lost)."""


@pytest.fixture
def killed_at_the_bot_call(monkeypatch):
    """The next bot call kills its task after the policy claimed the meeting: the claim stays
    as that task left it, and the next worker's process starts with none in hand."""
    call = bots._call

    def dies(*args, **kwargs):
        monkeypatch.setattr(bots, "_call", call)
        raise Killed

    monkeypatch.setattr(bots, "_call", dies)
    yield
    bots._hand.claim = None


def claims_grow_old(settings) -> None:
    """The claims age past any task's time (Q_TIMEOUT) and the sweep's minute of margin."""
    older = timedelta(seconds=settings.Q_CLUSTER["timeout"] + 61)
    Meeting.objects.filter(auto_bot_at__isnull=False).update(auto_bot_at=F("auto_bot_at") - older)


def mirrored_then_recorded(customer, *integrations) -> None:
    """The calendars synced while the customer recorded nothing, then the policy saved (its
    own job left aside): the tests ask for the bots themselves."""
    for integration in integrations:
        sync(integration)
    BotPolicy.objects.create(customer=customer, mode=BotPolicy.Mode.RECORD_ALL)


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_an_ask_its_task_never_answered_is_asked_again_once_the_task_cannot_be_running(
    sandbox, customer, make_integration, killed_at_the_bot_call, settings, admin_client, version
):
    integration = active_integration(make_integration, sandbox, version)
    event_id = add_event(sandbox, integration, in_hours=30)
    mirrored_then_recorded(customer, integration)
    meeting = Meeting.objects.get(remote_event_id=event_id)
    with pytest.raises(Killed):
        apply_bot_policy([meeting.pk])
    bots._hand.claim = None

    assert ask_lost_bots_again() == "0 lost asks asked again"  # its task may still be asking
    page = admin_client.get(reverse("admin:calendars_meeting_change", args=[meeting.pk]))
    assert "no answer is written yet. An ask whose task stopped is made again" in page.text
    claims_grow_old(settings)
    assert ask_lost_bots_again() == "1 lost ask asked again"
    assert ask_lost_bots_again() == "0 lost asks asked again"

    assert len(bot_requests(sandbox, integration, event_id)) == 1
    meeting.refresh_from_db()
    assert meeting.has_bot and meeting.outcome == "scheduled"
    attempt = BotAttempt.objects.get(meeting=meeting)
    assert (attempt.action, attempt.succeeded) == ("policy", True)


def test_no_ask_is_made_again_once_the_policy_no_longer_records_every_meeting(
    sandbox, customer, make_integration, killed_at_the_bot_call, settings
):
    integration = active_integration(make_integration, sandbox, "v2")
    event_id = add_event(sandbox, integration)
    mirrored_then_recorded(customer, integration)
    with pytest.raises(Killed):
        apply_bot_policy([Meeting.objects.get(remote_event_id=event_id).pk])
    bots._hand.claim = None
    BotPolicy.objects.update(mode=BotPolicy.Mode.SCHEDULED_ONLY)
    claims_grow_old(settings)

    assert ask_lost_bots_again() == "0 lost asks asked again"
    assert bot_requests(sandbox, integration) == []


def test_a_bot_a_person_removed_after_the_policys_ask_stays_removed(
    sandbox, customer, make_integration, admin_user, settings
):
    integration = active_integration(make_integration, sandbox, "v2")
    event_id = add_event(sandbox, integration)
    mirrored_then_recorded(customer, integration)
    meeting = Meeting.objects.get(remote_event_id=event_id)
    apply_bot_policy([meeting.pk])
    bots.remove([meeting.pk], acting_user=admin_user)
    claims_grow_old(settings)

    assert ask_lost_bots_again() == "0 lost asks asked again"
    assert len(bot_requests(sandbox, integration, event_id)) == 1


def test_only_the_carrying_copy_of_a_shared_meeting_is_asked_again(
    sandbox, customer, google_app, make_integration, killed_at_the_bot_call, settings
):
    alice, bob = colleagues(
        customer,
        google_app,
        make_integration,
        sandbox,
        "v2",
        ["alice@example.com", "bob@example.com"],
    )
    event_ids = share_meeting(sandbox, [alice, bob])
    mirrored_then_recorded(customer, alice, bob)
    alices, bobs = (Meeting.objects.get(remote_event_id=e) for e in event_ids)
    with pytest.raises(Killed):
        apply_bot_policy([alices.pk])
    bots._hand.claim = None
    apply_bot_policy([bobs.pk])  # covered by alice's copy: its claim stays, with no bot
    claims_grow_old(settings)

    assert ask_lost_bots_again() == "1 lost ask asked again"
    assert ask_lost_bots_again() == "0 lost asks asked again"

    assert [bot["event_id"] for bot in bots_at_sandbox(sandbox, event_ids)] == [event_ids[0]]
    bobs.refresh_from_db()
    assert (bobs.has_bot, bobs.outcome) == (False, "covered")
