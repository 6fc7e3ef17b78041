"""The bot policy: "record every meeting" schedules each new meeting's bot once, by itself."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import OperationalError
from django.db.models import QuerySet

from calendars import queue
from calendars.meetingbaas import client as api
from calendars.meetings import bots, outcomes, recording
from calendars.meetings.mirror import prune_history
from calendars.meetings.policy import wanting_a_bot
from calendars.meetings.sync import sync_window
from calendars.models import BotAttempt, BotPolicy, Meeting
from calendars.tasks import apply_bot_policy
from tests.support.meetings import (
    active_integration,
    add_event,
    bot_requests,
    deliver,
    sync,
    webhook,
)
from tests.support.outages import fails_once
from tests.support.shared_meetings import bots_at_sandbox, colleagues, share_meeting


@pytest.fixture(params=["v2", "v1"])
def integration(request, sandbox, make_integration):
    return active_integration(make_integration, sandbox, request.param)


@pytest.fixture
def records_everything(customer):
    return BotPolicy.objects.create(
        customer=customer, mode=BotPolicy.Mode.RECORD_ALL, bot_name="Acme notes"
    )


def test_a_new_meeting_gets_its_bot_once_however_often_the_webhook_comes(
    client, sandbox, integration, records_everything
):
    event_id = add_event(sandbox, integration, title="Kick-off")

    for _ in range(3):
        body = webhook(sandbox, integration, "calendar.event_created", [event_id])
        deliver(client, integration, body)
    sync(integration)

    assert len(bot_requests(sandbox, integration, event_id)) == 1
    meeting = Meeting.objects.get(remote_event_id=event_id)
    assert meeting.has_bot and meeting.bot_failure == ""
    assert meeting.bot_summary.startswith("Acme notes")
    held = sandbox.control("GET", f"events?connection_id={integration.remote_id}")
    assert next(e for e in held if e["event_id"] == event_id)["bot"]["bot_name"] == "Acme notes"
    attempt = BotAttempt.objects.get(meeting=meeting)
    assert (attempt.action, attempt.username, attempt.succeeded) == ("policy", "bot policy", True)
    assert (meeting.outcome, meeting.outcome_reason) == (
        "scheduled",
        "A bot is scheduled by the bot policy.",
    )


def test_the_same_old_webhook_again_after_the_bot_schedules_nothing_more(
    client, sandbox, make_integration, records_everything
):
    integration = active_integration(make_integration, sandbox, "v2")
    event_id = add_event(sandbox, integration)
    before_the_bot = webhook(sandbox, integration, "calendar.event_created", [event_id])
    deliver(client, integration, before_the_bot)

    # The same news re-sent later (a new delivery of the old state): still no second bot.
    deliver(client, integration, before_the_bot, age=timedelta(seconds=-1))

    assert len(bot_requests(sandbox, integration)) == 1
    assert BotAttempt.objects.count() == 1


def mirrored_before_the_policy(client, sandbox, customer, integration) -> Meeting:
    """A new meeting the portal knows, then a policy that records every meeting (its job
    left aside: the tests ask for the bot themselves)."""
    event_id = add_event(sandbox, integration)
    deliver(
        client, integration, webhook(sandbox, integration, "calendar.event_created", [event_id])
    )
    BotPolicy.objects.create(customer=customer, mode=BotPolicy.Mode.RECORD_ALL)
    return Meeting.objects.get(remote_event_id=event_id)


@pytest.fixture
def cut_as_the_answer_is_written(monkeypatch):
    """The database connection is lost once, as a bot call's answer is written (after
    Meeting BaaS scheduled the bot)."""
    fails_once(monkeypatch, bots, "attempt", OperationalError("terminating connection"))


def test_a_bot_whose_answer_was_lost_with_the_database_is_recorded_when_asked_again(
    client, sandbox, customer, integration, cut_as_the_answer_is_written
):
    # The mirror and the history go together, so the task run again on a new connection
    # (calendars/lib/database.py) asks once more.
    meeting = mirrored_before_the_policy(client, sandbox, customer, integration)
    with pytest.raises(OperationalError):
        bots.apply_policy([meeting.pk])
    bots.apply_policy([meeting.pk])

    assert len(bot_requests(sandbox, integration, str(meeting.remote_event_id))) == 2
    attempt = BotAttempt.objects.get(meeting=meeting)
    assert (attempt.action, attempt.succeeded) == ("policy", True)
    assert attempt.message == "A bot was already scheduled."
    meeting.refresh_from_db()
    assert meeting.has_bot and meeting.auto_bot_at is not None
    held = sandbox.control("GET", f"events?connection_id={integration.remote_id}")
    assert next(e for e in held if e["event_id"] == str(meeting.remote_event_id))["bot"]


def test_a_bot_whose_lost_answer_a_sync_read_first_is_recorded_when_the_task_runs_again(
    client, sandbox, customer, integration, cut_as_the_answer_is_written
):
    meeting = mirrored_before_the_policy(client, sandbox, customer, integration)
    with pytest.raises(OperationalError):
        bots.apply_policy([meeting.pk])
    sync_window(integration.pk)  # another worker's sync reads the bot (its tasks run there)
    bots.apply_policy([meeting.pk])

    assert len(bot_requests(sandbox, integration, str(meeting.remote_event_id))) == 1
    attempt = BotAttempt.objects.get(meeting=meeting)
    assert (attempt.action, attempt.username, attempt.succeeded) == ("policy", "bot policy", True)
    assert attempt.message == bots.INTERRUPTED
    meeting.refresh_from_db()
    assert meeting.has_bot and meeting.auto_bot_at is not None


def test_an_interrupted_ask_is_recorded_even_when_the_first_rerun_loses_the_database_too(
    client, sandbox, customer, integration, cut_as_the_answer_is_written, monkeypatch
):
    meeting = mirrored_before_the_policy(client, sandbox, customer, integration)
    with pytest.raises(OperationalError):
        bots.apply_policy([meeting.pk])
    sync_window(integration.pk)  # another worker's sync reads the bot (its tasks run there)
    fails_once(monkeypatch, bots, "_record", OperationalError("the database is starting up"))
    with pytest.raises(OperationalError):
        bots.apply_policy([meeting.pk])  # the first rerun, the database not back yet
    bots.apply_policy([meeting.pk])

    assert BotAttempt.objects.get(meeting=meeting).message == bots.INTERRUPTED


def test_a_carrier_given_back_by_the_rerun_of_a_covered_copys_task_is_asked_again(
    client, sandbox, customer, google_app, make_integration, cut_as_the_answer_is_written
):
    alice, bob = colleagues(
        customer, google_app, make_integration, sandbox, "v2", ["alice@example.com", "bob@x.com"]
    )
    event_ids = share_meeting(sandbox, [alice, bob])
    for integration in (alice, bob):
        sync(integration)
    BotPolicy.objects.create(customer=customer, mode=BotPolicy.Mode.RECORD_ALL)
    alices, bobs = (Meeting.objects.get(remote_event_id=e) for e in event_ids)

    with pytest.raises(OperationalError):
        bots.apply_policy(
            [bobs.pk]
        )  # covered by alice's copy (the first seen), whose answer is lost
    bots.apply_policy([bobs.pk])  # the rerun

    alices.refresh_from_db()
    assert alices.has_bot
    assert [bot["event_id"] for bot in bots_at_sandbox(sandbox, event_ids)] == [event_ids[0]]
    assert BotAttempt.objects.get().meeting_id == alices.pk


def test_a_claim_the_database_made_as_the_connection_was_lost_is_given_back_and_asked(
    client, sandbox, customer, make_integration, monkeypatch
):
    integration = active_integration(make_integration, sandbox, "v2")
    meeting = mirrored_before_the_policy(client, sandbox, customer, integration)

    class CutAfterTheUpdate(QuerySet):
        def update(self, **changes):
            super().update(**changes)
            raise OperationalError("server closed the connection unexpectedly")

    def cut_claim(meetings):
        monkeypatch.setattr(bots, "wanting_a_bot", wanting_a_bot)
        wanting = wanting_a_bot(meetings)
        wanting.__class__ = CutAfterTheUpdate
        return wanting

    monkeypatch.setattr(bots, "wanting_a_bot", cut_claim)
    with pytest.raises(OperationalError):
        bots.apply_policy([meeting.pk])
    bots.apply_policy([meeting.pk])  # the task, run again

    assert len(bot_requests(sandbox, integration, str(meeting.remote_event_id))) == 1
    assert BotAttempt.objects.get(meeting=meeting).succeeded
    assert Meeting.objects.get(pk=meeting.pk).has_bot


def test_a_bot_made_elsewhere_after_an_ask_cut_before_its_call_is_not_taken_for_the_policys(
    client, sandbox, customer, make_integration, monkeypatch
):
    integration = active_integration(make_integration, sandbox, "v2")
    meeting = mirrored_before_the_policy(client, sandbox, customer, integration)
    fails_once(monkeypatch, recording, "still_wanted", OperationalError("terminating connection"))
    with pytest.raises(OperationalError):
        bots.apply_policy([meeting.pk])  # claimed, its rules read: no bot call yet
    # Someone schedules a bot at Meeting BaaS directly (its dashboard, another tool).
    api().schedule_bot(
        integration.remote_id,
        config=BotPolicy(customer=customer).bot_config(),
        event_id=meeting.remote_event_id,
    )
    sync(integration)
    bots.apply_policy([meeting.pk])

    assert Meeting.objects.get(pk=meeting.pk).has_bot
    assert not BotAttempt.objects.filter(meeting=meeting).exists()


def test_an_ask_stopped_by_any_other_error_gives_its_claim_back_at_once(
    client, sandbox, customer, make_integration, monkeypatch
):
    integration = active_integration(make_integration, sandbox, "v2")
    meeting = mirrored_before_the_policy(client, sandbox, customer, integration)

    def broken(*args):
        raise RuntimeError("a bug")

    monkeypatch.setattr(recording, "still_wanted", broken)
    with pytest.raises(RuntimeError):
        bots.apply_policy([meeting.pk])

    assert Meeting.objects.get(pk=meeting.pk).auto_bot_at is None  # the next sync asks again
    assert bots._hand.claim is None


def test_a_task_queued_before_the_policy_stopped_recording_every_meeting_asks_nothing(
    client, sandbox, customer, make_integration
):
    integration = active_integration(make_integration, sandbox, "v2")
    meeting = mirrored_before_the_policy(client, sandbox, customer, integration)
    BotPolicy.objects.update(mode=BotPolicy.Mode.SCHEDULED_ONLY)

    apply_bot_policy([meeting.pk])  # queued while it still recorded every meeting

    assert bot_requests(sandbox, integration) == []
    assert Meeting.objects.get(pk=meeting.pk).auto_bot_at is None


@pytest.mark.clock
def test_the_window_sync_schedules_the_bots_the_policy_wants(
    sandbox, integration, records_everything
):
    sync(integration)

    wanted = Meeting.objects.filter(
        starts_at__gt=records_everything.updated_at, is_cancelled=False
    ).exclude(meeting_url="")
    assert wanted.exists()
    assert not wanted.filter(has_bot=False).exists()
    assert not Meeting.objects.filter(meeting_url="", has_bot=True).exists()
    assert not Meeting.objects.filter(is_cancelled=True, has_bot=True).exists()


def test_a_refused_bot_keeps_the_apis_reason_on_the_meeting(
    client, sandbox, integration, records_everything
):
    path = (
        "/calendar_events/.*/bot"
        if integration.api_version == "v1"
        else f"/v2/calendars/{integration.remote_id}/bots"
    )
    sandbox.fault("POST", path, "status", status=400)
    event_id = add_event(sandbox, integration)

    deliver(
        client, integration, webhook(sandbox, integration, "calendar.event_created", [event_id])
    )

    meeting = Meeting.objects.get(remote_event_id=event_id)
    assert not meeting.has_bot
    assert "HTTP 400" in meeting.bot_failure
    # A refusal is not tried again by the policy: a person decides.
    deliver(
        client, integration, webhook(sandbox, integration, "calendar.event_updated", [event_id])
    )
    assert len(bot_requests(sandbox, integration)) == 1


def test_a_rate_limited_bot_is_asked_for_again_at_the_next_sync(
    client, sandbox, make_integration, records_everything
):
    integration = active_integration(make_integration, sandbox, "v2")
    sandbox.fault(
        "POST", f"/v2/calendars/{integration.remote_id}/bots", "status", status=429, count=5
    )
    event_id = add_event(sandbox, integration)
    deliver(
        client, integration, webhook(sandbox, integration, "calendar.event_created", [event_id])
    )
    assert not Meeting.objects.get(remote_event_id=event_id).has_bot

    sync(integration)

    assert Meeting.objects.get(remote_event_id=event_id).has_bot


@pytest.mark.parametrize("mode", [BotPolicy.Mode.SCHEDULED_ONLY, BotPolicy.Mode.NONE])
def test_other_policies_schedule_nothing_by_themselves(
    client, sandbox, customer, integration, mode
):
    BotPolicy.objects.create(customer=customer, mode=mode)
    event_id = add_event(sandbox, integration)

    deliver(
        client, integration, webhook(sandbox, integration, "calendar.event_created", [event_id])
    )
    sync(integration)

    assert bot_requests(sandbox, integration) == []
    assert Meeting.objects.filter(remote_event_id=event_id, has_bot=False).exists()


def test_a_bots_history_outlives_its_meeting_pruned_past_the_history_kept(
    client, sandbox, make_integration, records_everything, settings
):
    integration = active_integration(make_integration, sandbox, "v2")
    event_id = add_event(sandbox, integration, title="Kick-off")
    deliver(
        client, integration, webhook(sandbox, integration, "calendar.event_created", [event_id])
    )
    meeting = Meeting.objects.get(remote_event_id=event_id)
    starts = meeting.starts_at

    later = starts + timedelta(days=settings.MEETINGS_HISTORY_DAYS, minutes=1)
    assert prune_history(later) >= 1

    assert not Meeting.objects.filter(pk=meeting.pk).exists()
    attempt = BotAttempt.objects.get(remote_event_id=event_id)
    assert attempt.meeting is None and attempt.integration == integration
    assert (attempt.meeting_title, attempt.meeting_starts_at) == ("Kick-off", starts)


def test_a_new_meeting_queued_for_its_bot_is_judged_by_the_policys_task(
    client, sandbox, make_integration, records_everything, monkeypatch
):
    # The ingestion leaves the outcome of a new meeting the policy queued to that task (it
    # would be replaced moments later); a task lost on the way leaves it to the settling pass.
    integration = active_integration(make_integration, sandbox, "v2")
    lost: list[tuple] = []
    enqueue = queue.enqueue

    def losing_the_policys_tasks(task, *args, **options):
        if task == "apply_bot_policy":
            lost.append(args)
            return "lost"
        return enqueue(task, *args, **options)

    monkeypatch.setattr(queue, "enqueue", losing_the_policys_tasks)
    kick_off = add_event(sandbox, integration, title="Kick-off")
    deliver(
        client, integration, webhook(sandbox, integration, "calendar.event_created", [kick_off])
    )

    meeting = Meeting.objects.get(remote_event_id=kick_off)
    assert [ids for (ids,) in lost] == [[meeting.pk]]
    assert meeting.outcome == ""
    outcomes.settle()
    meeting.refresh_from_db()
    assert (meeting.outcome, meeting.outcome_cause) == ("no_bot", "not_asked")

    # A policy that records nothing by itself queues nothing: the ingestion judges the meeting.
    records_everything.mode = BotPolicy.Mode.SCHEDULED_ONLY
    records_everything.save()
    review = add_event(sandbox, integration, title="Review")
    created = webhook(sandbox, integration, "calendar.event_created", [review])
    deliver(client, integration, created)
    assert len(lost) == 1
    judged = Meeting.objects.get(remote_event_id=review)
    assert (judged.outcome, judged.outcome_cause) == ("no_bot", "policy")
