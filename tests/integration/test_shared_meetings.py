"""One bot per meeting: a meeting in several calendars of a customer gets one bot, carried by
one copy; the others say which; the bot moves when its copy goes away before the meeting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from calendars.actions.integrations import disconnect_integration
from calendars.actions.refresh import refresh_integration
from calendars.meetings.sharing import needing_a_move
from calendars.models import BotAttempt, BotPolicy, Meeting, SharedMeeting
from calendars.tasks import check_v1_health, move_shared_bots
from tests.support.meetings import deliver, sync, webhook
from tests.support.shared_meetings import bots_at_sandbox, colleagues, share_meeting

EMAILS = [
    "alice@example.com",
    "bob@example.com",
    "carol@example.com",
    "dan@partner.example",
    "erin@partner.example",
]


@pytest.fixture
def policy(customer):
    return BotPolicy.objects.create(customer=customer, mode=BotPolicy.Mode.RECORD_ALL)


@pytest.fixture
def calendars(customer, google_app, make_integration, sandbox):
    def make(count: int, version: str = "v2"):
        return colleagues(customer, google_app, make_integration, sandbox, version, EMAILS[:count])

    return make


def announce(client, sandbox, integrations, event_ids, change="calendar.event_created"):
    for integration, event_id in zip(integrations, event_ids, strict=True):
        deliver(client, integration, webhook(sandbox, integration, change, [event_id]))


def copies(event_ids) -> list[Meeting]:
    by_event = {
        str(m.remote_event_id): m for m in Meeting.objects.filter(remote_event_id__in=event_ids)
    }
    return [by_event[event_id] for event_id in event_ids]


@pytest.mark.parametrize(("version", "count"), [("v2", 2), ("v2", 3), ("v2", 5), ("v1", 2)])
def test_a_meeting_in_several_calendars_gets_one_bot_on_the_first_copy_seen(
    client, sandbox, calendars, policy, version, count
):
    integrations = calendars(count, version)
    event_ids = share_meeting(sandbox, integrations, noisy=True)

    announce(client, sandbox, integrations, event_ids)
    announce(client, sandbox, integrations, event_ids, "calendar.event_updated")

    bots = bots_at_sandbox(sandbox, event_ids)
    assert [bot["event_id"] for bot in bots] == [event_ids[0]]
    carrier, *covered = copies(event_ids)
    assert carrier.has_bot and carrier.outcome == "scheduled"
    for copy in covered:
        assert not copy.has_bot
        assert (copy.outcome, copy.outcome_reason) == (
            "covered",
            "Covered by the bot on alice@example.com's calendar.",
        )
        assert copy.shared_meeting_id == carrier.shared_meeting_id
    assert BotAttempt.objects.count() == 1


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_the_organizers_copy_carries_the_bot_when_the_customer_has_it(
    client, sandbox, calendars, customer, version
):
    # v1's events carry their organizer (the provider's event); v2 names it only in an
    # event's details, never in a listing or a webhook: fetched for one copy, once.
    integrations = calendars(3, version)
    event_ids = share_meeting(sandbox, integrations, organizer="bob@example.com")
    for integration in integrations:
        sync(integration)  # mirrored, with their organizer; the policy records nothing yet
    BotPolicy.objects.create(customer=customer, mode=BotPolicy.Mode.RECORD_ALL)

    for integration in integrations:
        sync(integration)

    assert [bot["event_id"] for bot in bots_at_sandbox(sandbox, event_ids)] == [event_ids[1]]
    alices = copies(event_ids)[0]
    assert alices.outcome_reason == "Covered by the bot on bob@example.com's calendar."
    if version == "v2":
        details = [
            r for r in sandbox.requests_to("GET", "/v2/calendars/") if "/events/" in r["path"]
        ]
        assert len(details) == 1


@pytest.mark.parametrize(("scope", "bots"), [("domain", 2), ("calendar", 4), ("customer", 1)])
def test_the_policys_scope_says_whose_copies_share_a_bot(
    client, sandbox, calendars, policy, scope, bots
):
    policy.bot_scope = scope
    policy.save()
    integrations = calendars(4)  # three at example.com, one at partner.example
    event_ids = share_meeting(sandbox, integrations)

    announce(client, sandbox, integrations, event_ids)

    assert len(bots_at_sandbox(sandbox, event_ids)) == bots
    assert Meeting.objects.filter(has_bot=True, remote_event_id__in=event_ids).count() == bots


def test_a_different_meeting_at_the_same_time_gets_its_own_bot(client, sandbox, calendars, policy):
    alice, bob = calendars(2)
    ids = share_meeting(sandbox, [alice]) + share_meeting(sandbox, [bob], in_hours=2.5)
    ids += share_meeting(sandbox, [bob])  # the same meeting as alice's: covered

    announce(client, sandbox, [alice, bob, bob], ids)

    assert sorted(b["event_id"] for b in bots_at_sandbox(sandbox, ids)) == sorted(ids[:2])


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_the_bot_moves_when_the_carriers_calendar_breaks_an_hour_before(
    client, sandbox, calendars, policy, version
):
    integrations = calendars(3, version)
    event_ids = share_meeting(sandbox, integrations, in_hours=1)
    announce(client, sandbox, integrations, event_ids)
    alice = integrations[0]
    sandbox.force(alice.remote_id, status="error", status_message="invalid_grant")
    if version == "v1":
        check_v1_health()  # v1 has no status: its resync_all names the broken calendars
    else:
        refresh_integration(alice.pk)
    alice.refresh_from_db()
    assert alice.status == "error"

    move_shared_bots()
    move_shared_bots()  # moved once, not again

    assert [bot["event_id"] for bot in bots_at_sandbox(sandbox, event_ids)] == [event_ids[1]]
    old, new, other = copies(event_ids)
    assert new.has_bot and new.outcome == "scheduled"
    moved = BotAttempt.objects.get(meeting=new)
    assert (moved.action, moved.username, moved.succeeded) == ("move", "bot policy", True)
    assert moved.message.startswith(
        "From alice@example.com's calendar: that calendar connection is error."
    )
    assert other.outcome_reason == "Covered by the bot on bob@example.com's calendar."
    assert old.outcome == "covered"
    removed = BotAttempt.objects.filter(meeting=old, action="remove").get()
    assert removed.message.startswith("Moved to bob@example.com's calendar")


@pytest.mark.parametrize(
    ("goes", "why"),
    [
        ("cancelled", "it was cancelled in that calendar"),
        ("declined", "its account declined it"),
        ("disconnected", "that calendar connection is disconnected"),
    ],
)
def test_the_bot_moves_when_the_carrying_copy_goes_away(
    client, sandbox, calendars, policy, goes, why
):
    integrations = calendars(2)
    event_ids = share_meeting(sandbox, integrations)
    announce(client, sandbox, integrations, event_ids)
    alice = integrations[0]
    if goes in ("cancelled", "declined"):
        sandbox.control("POST", f"events/{event_ids[0]}", {goes: True})
        news = "calendar.event_cancelled" if goes == "cancelled" else "calendar.event_updated"
        announce(client, sandbox, [alice], event_ids[:1], news)
    else:  # Meeting BaaS cancels the bots of a connection it deletes (the spec)
        disconnect_integration(alice.pk)

    move_shared_bots()

    assert [bot["event_id"] for bot in bots_at_sandbox(sandbox, event_ids)] == [event_ids[1]]
    moved = BotAttempt.objects.get(meeting__remote_event_id=event_ids[1], action="move")
    assert moved.succeeded
    assert moved.message.startswith(f"From alice@example.com's calendar: {why}.")
    assert Meeting.objects.get(remote_event_id=event_ids[1]).outcome == "scheduled"


def test_a_covered_copys_page_links_to_the_carrier_and_back(
    admin_client, client, sandbox, calendars, policy
):
    integrations = calendars(2)
    event_ids = share_meeting(sandbox, integrations)
    announce(client, sandbox, integrations, event_ids)
    carrier, covered = copies(event_ids)

    page = admin_client.get(reverse("admin:calendars_meeting_change", args=[covered.pk]))
    carrier_url = reverse("admin:calendars_meeting_change", args=[carrier.pk])
    assert "Covered by the bot on alice@example.com's calendar: <a href=" in page.text
    assert f'href="{carrier_url}"' in page.text
    back = admin_client.get(carrier_url)
    assert "This copy carries the meeting's bot; it covers <a" in back.text
    assert reverse("admin:calendars_meeting_change", args=[covered.pk]) in back.text
    listed = admin_client.get(reverse("admin:calendars_meeting_changelist"))
    assert listed.text.count("Covered<br>") == 1


def test_covered_copies_are_neither_at_risk_nor_missed(client, sandbox, calendars, policy):
    from calendars.meetings import risk

    integrations = calendars(2)
    event_ids = share_meeting(sandbox, integrations)
    announce(client, sandbox, integrations, event_ids)

    at_risk = Meeting.objects.filter(risk.conditions(risk.horizon())[risk.Rule.NO_BOT])
    assert not at_risk.filter(remote_event_id__in=event_ids).exists()
    assert copies(event_ids)[1].outcome == "covered"  # not one of outcomes.MISSED


def test_a_copy_someone_gave_a_bot_already_carries_it(client, sandbox, calendars, customer):
    from calendars.meetings import bots

    integrations = calendars(3)
    event_ids = share_meeting(sandbox, integrations)
    announce(client, sandbox, integrations, event_ids)  # the policy records nothing yet
    bots.schedule([copies(event_ids)[2].pk], acting_user=None)
    BotPolicy.objects.create(customer=customer, mode=BotPolicy.Mode.RECORD_ALL)

    for integration in integrations:
        sync(integration)

    assert [bot["event_id"] for bot in bots_at_sandbox(sandbox, event_ids)] == [event_ids[2]]
    assert copies(event_ids)[0].outcome_reason == (
        "Covered by the bot on carol@example.com's calendar."
    )


def test_a_copy_added_after_the_meeting_moved_is_covered_by_its_bot(
    client, sandbox, calendars, policy
):
    alice, bob, carol = calendars(3)
    event_ids = share_meeting(sandbox, [alice, bob])
    announce(client, sandbox, [alice, bob], event_ids)
    later = (datetime.now(UTC) + timedelta(hours=5)).replace(microsecond=0)
    for event_id in event_ids:
        sandbox.control("POST", f"events/{event_id}", {"start": later.isoformat()})
    announce(client, sandbox, [alice, bob], event_ids, "calendar.event_updated")

    event_ids += share_meeting(sandbox, [carol], in_hours=5)  # Carol is invited now
    announce(client, sandbox, [carol], event_ids[2:])

    assert [bot["event_id"] for bot in bots_at_sandbox(sandbox, event_ids)] == [event_ids[0]]
    assert copies(event_ids)[2].outcome == "covered"
    # Still one shared meeting: its copies moved, it is found through them.
    assert SharedMeeting.objects.filter(key="zoom:85712345678").count() == 1


def test_meetings_no_other_copy_can_carry_never_keep_a_move_waiting(
    client, sandbox, calendars, policy, monkeypatch
):
    alice, bob = calendars(2)
    # Sooner and first seen: alice's own meeting, which no other calendar has.
    alone = share_meeting(sandbox, [alice], in_hours=1)
    event_ids = share_meeting(sandbox, [alice, bob], in_hours=2)
    announce(client, sandbox, [alice], alone)
    announce(client, sandbox, [alice, bob], event_ids)
    sandbox.force(alice.remote_id, status="error", status_message="invalid_grant")
    refresh_integration(alice.pk)
    monkeypatch.setattr("calendars.meetings.bots.MOVES_AT_MOST", 1)

    move_shared_bots()

    assert [bot["event_id"] for bot in bots_at_sandbox(sandbox, event_ids)] == [event_ids[1]]
    # The lone meeting's carrier is broken too, but nothing can take its bot: not listed.
    assert SharedMeeting.objects.filter(carrier__remote_event_id=alone[0]).exists()
    assert not needing_a_move().exists()


def test_another_domains_copy_never_keeps_a_move_waiting(client, sandbox, calendars, policy):
    policy.bot_scope = BotPolicy.Scope.DOMAIN
    policy.save()
    alice, *_, dan = calendars(4)  # alice at example.com, dan at partner.example
    event_ids = share_meeting(sandbox, [alice, dan])
    announce(client, sandbox, [alice, dan], event_ids)
    assert len(bots_at_sandbox(sandbox, event_ids)) == 2  # one a domain

    sandbox.force(alice.remote_id, status="error", status_message="invalid_grant")
    refresh_integration(alice.pk)

    # Dan's copy could carry a bot, but not alice's domain's: nothing to move.
    assert not needing_a_move().exists()


@pytest.mark.parametrize(
    ("action", "said", "shown"),
    [
        (
            "record_never",
            "Not recorded: a person set the copy on alice@example.com's calendar, which carries "
            "this meeting's bot, to never be recorded.",
            "which a person set to never be recorded",
        ),
        (
            "remove_bot",
            "Covered by the copy on alice@example.com's calendar, which has no bot now (its "
            "page says why).",
            "which has no bot now",
        ),
    ],
)
def test_a_covered_copy_says_so_when_its_carrier_loses_the_bot_by_a_persons_hand(
    admin_client, client, sandbox, calendars, policy, action, said, shown
):
    integrations = calendars(2)
    event_ids = share_meeting(sandbox, integrations)
    announce(client, sandbox, integrations, event_ids)
    carrier, covered = copies(event_ids)

    admin_client.post(
        reverse("admin:calendars_meeting_changelist"),
        {"action": action, "_selected_action": [carrier.pk], "confirm": "1"},
    )

    assert bots_at_sandbox(sandbox, event_ids) == []
    covered.refresh_from_db()
    assert (covered.outcome, covered.outcome_reason) == ("covered", said)
    page = admin_client.get(reverse("admin:calendars_meeting_change", args=[covered.pk]))
    assert f"Carried by the copy on alice@example.com's calendar, {shown}: <a" in page.text


def test_a_move_refused_for_now_is_asked_again_by_the_policy_at_the_next_sync(
    client, sandbox, calendars, policy
):
    alice, bob = calendars(2)
    event_ids = share_meeting(sandbox, [alice, bob])
    announce(client, sandbox, [alice, bob], event_ids)
    sandbox.fault("POST", f"/v2/calendars/{bob.remote_id}/bots", "status", status=429, count=5)
    sandbox.control("POST", f"events/{event_ids[0]}", {"cancelled": True})

    announce(client, sandbox, [alice], event_ids[:1], "calendar.event_cancelled")
    move_shared_bots()

    assert bots_at_sandbox(sandbox, event_ids) == []
    refused = BotAttempt.objects.get(meeting__remote_event_id=event_ids[1], action="move")
    assert not refused.succeeded and "Not done for now" in refused.message
    sync(bob)
    assert [bot["event_id"] for bot in bots_at_sandbox(sandbox, event_ids)] == [event_ids[1]]
    asked = BotAttempt.objects.get(meeting__remote_event_id=event_ids[1], action="policy")
    assert asked.succeeded
    assert Meeting.objects.get(remote_event_id=event_ids[1]).outcome == "scheduled"
