"""A bot the policy asked for, whose task stopped before it wrote the answer, is asked again:
never a second bot, never one a person removed, never one for a copy another copy covers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import F
from django.urls import reverse

from calendars.meetings import bots
from calendars.models import BotAttempt, BotPolicy, Integration, Meeting
from calendars.tasks import apply_bot_policy, ask_lost_bots_again
from tests.support.meetings import active_integration, add_event, bot_requests, sync
from tests.support.outages import fails_once
from tests.support.shared_meetings import bots_at_sandbox, colleagues, share_meeting


class Killed(BaseException):
    """The worker's process ends in mid-task (past Q_TIMEOUT, or its machine lost)."""


def killed_at_the_bot_call(monkeypatch, meeting_ids: list[int]) -> None:
    """The policy's task for the meetings, killed at its bot call after it claimed the
    meeting: the claim stays as the task left it, and the next worker's process starts with
    none in hand."""
    fails_once(monkeypatch, bots, "_call", Killed())
    with pytest.raises(Killed):
        apply_bot_policy(meeting_ids)
    bots._hand.claim, bots._hand.asked = None, False


def claims_grow_old(settings) -> None:
    """All that happened so far moves back past the time a task is judged gone (Q_RETRY):
    the claims and the attempts alike."""
    older = timedelta(seconds=settings.Q_CLUSTER["retry"] + 1)
    Meeting.objects.filter(auto_bot_at__isnull=False).update(auto_bot_at=F("auto_bot_at") - older)
    BotAttempt.objects.update(at=F("at") - older)


def mirrored_then_recorded(customer, *integrations) -> None:
    """The calendars synced while the customer recorded nothing, then the policy saved (its
    own job left aside): the tests ask for the bots themselves."""
    for integration in integrations:
        sync(integration)
    BotPolicy.objects.create(customer=customer, mode=BotPolicy.Mode.RECORD_ALL)


def one_meeting_then_recorded(
    sandbox, customer, make_integration, version: str = "v2", **event: object
) -> tuple[Integration, Meeting]:
    """One new meeting in a calendar of `version`, mirrored before the policy."""
    integration = active_integration(make_integration, sandbox, version)
    event_id = add_event(sandbox, integration, **event)
    mirrored_then_recorded(customer, integration)
    return integration, Meeting.objects.get(remote_event_id=event_id)


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_an_ask_its_task_never_answered_is_asked_again_once_the_task_cannot_be_running(
    sandbox, customer, make_integration, monkeypatch, settings, admin_client, version
):
    integration, meeting = one_meeting_then_recorded(
        sandbox, customer, make_integration, version, in_hours=30
    )
    event_id = str(meeting.remote_event_id)
    killed_at_the_bot_call(monkeypatch, [meeting.pk])

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
    sandbox, customer, make_integration, monkeypatch, settings
):
    integration, meeting = one_meeting_then_recorded(sandbox, customer, make_integration)
    killed_at_the_bot_call(monkeypatch, [meeting.pk])
    BotPolicy.objects.update(mode=BotPolicy.Mode.SCHEDULED_ONLY)
    claims_grow_old(settings)

    assert ask_lost_bots_again() == "0 lost asks asked again"
    assert bot_requests(sandbox, integration) == []


def test_a_bot_a_person_removed_after_the_policys_ask_stays_removed(
    sandbox, customer, make_integration, admin_user, settings
):
    integration, meeting = one_meeting_then_recorded(sandbox, customer, make_integration)
    apply_bot_policy([meeting.pk])
    bots.remove([meeting.pk], acting_user=admin_user)
    claims_grow_old(settings)

    assert ask_lost_bots_again() == "0 lost asks asked again"
    assert len(bot_requests(sandbox, integration, str(meeting.remote_event_id))) == 1


def test_only_the_carrying_copy_of_a_shared_meeting_is_asked_again(
    sandbox, customer, google_app, make_integration, monkeypatch, settings
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
    killed_at_the_bot_call(monkeypatch, [alices.pk])
    apply_bot_policy([bobs.pk])  # covered by alice's copy: its claim stays, with no bot
    claims_grow_old(settings)

    assert ask_lost_bots_again() == "1 lost ask asked again"
    assert ask_lost_bots_again() == "0 lost asks asked again"

    assert [bot["event_id"] for bot in bots_at_sandbox(sandbox, event_ids)] == [event_ids[0]]
    bobs.refresh_from_db()
    assert (bobs.has_bot, bobs.outcome) == (False, "covered")
    # Alice's copy leaves the mirror (its event deleted): bob's is not asked for, the minute's
    # move chooses the new carrier.
    Meeting.objects.filter(pk=alices.pk).delete()
    claims_grow_old(settings)
    assert ask_lost_bots_again() == "0 lost asks asked again"


def test_an_ask_lost_after_one_refused_for_now_is_asked_again(
    sandbox, customer, make_integration, monkeypatch, settings
):
    integration, meeting = one_meeting_then_recorded(sandbox, customer, make_integration)
    bots_path = f"/v2/calendars/{integration.remote_id}/bots"
    sandbox.fault("POST", bots_path, "status", status=429, count=5)
    apply_bot_policy([meeting.pk])
    meeting.refresh_from_db()
    assert meeting.bot_failure.startswith("Not done for now") and meeting.auto_bot_at is None

    killed_at_the_bot_call(monkeypatch, [meeting.pk])  # the next sync's ask
    claims_grow_old(settings)

    assert ask_lost_bots_again() == "1 lost ask asked again"
    meeting.refresh_from_db()
    assert (meeting.has_bot, meeting.bot_failure) == (True, "")
