"""Reconciliation extends to bots: a meeting with several bots at Meeting BaaS, a bot the policy
would not schedule, a meeting the policy wants recorded with no bot there; "Remove duplicate
bot" and "Schedule bot" act at the sandbox and are recorded, for admins only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from calendars import meetingbaas
from calendars.actions.reconciliation import reconcile_now
from calendars.meetingbaas.types import BotConfig
from calendars.meetings import bots
from calendars.models import (
    ActionRecord,
    BotAttempt,
    BotPolicy,
    Integration,
    Meeting,
    ReconciliationFinding,
)
from tests.support.meetings import active_integration, deliver, sync, webhook

Kind = ReconciliationFinding.Kind
TEAM = "alice.team@group.calendar.google.com"
URL = "https://meet.google.com/abc-defg-hij"


def policy(customer, mode: str) -> BotPolicy:
    # One bot per calendar (no deduplication): a shared meeting can get two bots here.
    return BotPolicy.objects.create(
        customer=customer, mode=mode, bot_name="Acme notes", bot_scope=BotPolicy.Scope.CALENDAR
    )


def one_bot_per_meeting_since(customer) -> None:
    """The customer's policy turned to one bot per meeting after both copies got a bot."""
    BotPolicy.objects.filter(customer=customer).update(bot_scope=BotPolicy.Scope.CUSTOMER)


def shared_meeting(
    client, sandbox, integrations: list[Integration], apart: timedelta = timedelta(0)
) -> list[Meeting]:
    """One meeting (the same URL and start, or each copy's `apart` after the one before) in
    each integration's calendar, mirrored."""
    first = (datetime.now(UTC) + timedelta(hours=3)).replace(second=0, microsecond=0)
    meetings = []
    for n, integration in enumerate(integrations):
        start = first + n * apart
        added = sandbox.control(
            "POST",
            "events",
            {
                "connection_id": str(integration.remote_id),
                "title": "Quarterly review",
                "start": start.isoformat(),
                "end": (start + timedelta(minutes=30)).isoformat(),
                "meeting_url": URL,
            },
        )
        body = webhook(sandbox, integration, "calendar.event_created", [added["event_id"]])
        deliver(client, integration, body)
        meetings.append(Meeting.objects.get(remote_event_id=added["event_id"]))
    return meetings


def bot_at_sandbox(sandbox, meeting: Meeting) -> dict | None:
    connection = sandbox.connection(meeting.integration.remote_id)
    return sandbox.state.event(connection, str(meeting.remote_event_id)).bot


def findings(kind: str) -> list[ReconciliationFinding]:
    return list(ReconciliationFinding.objects.filter(kind=kind).order_by("pk"))


def finding_url(name: str, finding: ReconciliationFinding) -> str:
    return reverse(f"admin:calendars_reconciliation_{name}", args=[finding.pk])


@pytest.mark.parametrize(
    ("version", "apart"), [("v2", 0), ("v1", 0), ("v2", 40)], ids=["v2", "v1", "v2-40s-apart"]
)
def test_a_meeting_with_two_bots_is_found_and_its_duplicate_removed(
    admin_client, sandbox, make_integration, customer, version, apart
):
    policy(customer, BotPolicy.Mode.RECORD_ALL)  # one bot per calendar: two here
    primary = active_integration(make_integration, sandbox, version)
    team = active_integration(lambda: make_integration(TEAM), sandbox, version)
    # Copies of one meeting start within a minute of each other.
    kept, extra = shared_meeting(
        admin_client, sandbox, [primary, team], apart=timedelta(seconds=apart)
    )
    assert bot_at_sandbox(sandbox, kept) and bot_at_sandbox(sandbox, extra)
    assert not reconcile_now().bot_findings  # one bot per calendar wants both
    one_bot_per_meeting_since(customer)

    run = reconcile_now()

    (duplicate,) = findings(Kind.DUPLICATE_BOT)
    assert (duplicate.meeting, duplicate.run, duplicate.remote_id) == (
        extra,
        run,
        extra.remote_event_id,
    )
    assert f"the one on alice@example.com's calendar (meeting {kept.pk}) stays" in (
        duplicate.differences
    )
    assert run.bot_findings == 1 and not findings(Kind.UNWANTED_BOT)
    page = admin_client.get(reverse("admin:calendars_reconciliation_change", args=[run.pk]))
    assert "Remove duplicate bot</button>" in page.content.decode()

    response = admin_client.post(finding_url("remove_duplicate_bot", duplicate))

    assert "Duplicate bot removed" in " ".join(map(str, get_messages(response.wsgi_request)))
    assert bot_at_sandbox(sandbox, extra) is None and bot_at_sandbox(sandbox, kept)
    duplicate.refresh_from_db()
    assert duplicate.outcome == ReconciliationFinding.Outcome.BOT_REMOVED
    record = ActionRecord.objects.get(action="remove duplicate bot")
    assert record.succeeded and record.integration == team
    assert BotAttempt.objects.filter(meeting=extra, action="remove", succeeded=True).exists()


def test_the_same_url_two_minutes_apart_is_two_meetings_not_a_duplicate(
    admin_client, sandbox, make_integration, customer
):
    policy(customer, BotPolicy.Mode.RECORD_ALL)
    primary = active_integration(make_integration, sandbox, "v2")
    team = active_integration(lambda: make_integration(TEAM), sandbox, "v2")
    shared_meeting(admin_client, sandbox, [primary, team], apart=timedelta(minutes=2))
    one_bot_per_meeting_since(customer)

    assert not reconcile_now().bot_findings


def found_duplicate(client, sandbox, make_integration, customer) -> tuple[Meeting, Meeting]:
    """A meeting in two calendars with a bot each, found by a run as a duplicate: the copy
    that keeps its bot, and the one found one too many."""
    policy(customer, BotPolicy.Mode.RECORD_ALL)
    primary = active_integration(make_integration, sandbox, "v2")
    team = active_integration(lambda: make_integration(TEAM), sandbox, "v2")
    kept, extra = shared_meeting(client, sandbox, [primary, team])
    one_bot_per_meeting_since(customer)
    reconcile_now()
    return kept, extra


def test_a_duplicate_no_longer_there_is_settled_not_removed(
    admin_client, sandbox, make_integration, customer
):
    kept, extra = found_duplicate(admin_client, sandbox, make_integration, customer)
    bots.remove([kept.pk], acting_user=None)  # the other copy's bot went meanwhile

    admin_client.post(finding_url("remove_duplicate_bot", findings(Kind.DUPLICATE_BOT)[0]))

    assert bot_at_sandbox(sandbox, extra)  # the only bot left stays
    assert findings(Kind.DUPLICATE_BOT)[0].outcome == ReconciliationFinding.Outcome.SETTLED
    assert not ActionRecord.objects.get(action="remove duplicate bot").succeeded


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_a_bot_the_policy_wanted_and_meeting_baas_lost_is_scheduled_again(
    admin_client, sandbox, make_integration, customer, version
):
    policy(customer, BotPolicy.Mode.RECORD_ALL)
    integration = active_integration(make_integration, sandbox, version)
    (meeting,) = shared_meeting(admin_client, sandbox, [integration])
    # Removed at Meeting BaaS, not through the portal; the next sync sees it gone.
    meetingbaas.client(version).remove_bot(
        integration.remote_id, event_id=meeting.remote_event_id, series_id=meeting.series_id or None
    )
    sync(integration)
    assert not Meeting.objects.get(pk=meeting.pk).has_bot

    reconcile_now()

    (missing,) = findings(Kind.MISSING_BOT)
    assert missing.meeting == meeting
    admin_client.post(finding_url("schedule_bot", missing))
    assert bot_at_sandbox(sandbox, meeting)
    missing.refresh_from_db()
    assert missing.outcome == ReconciliationFinding.Outcome.BOT_SCHEDULED
    assert ActionRecord.objects.get(action="schedule bot").succeeded


def test_a_bot_no_one_asked_for_under_a_scheduled_only_policy_is_unwanted(
    admin_client, admin_user, sandbox, make_integration, customer
):
    policy(customer, BotPolicy.Mode.SCHEDULED_ONLY)
    primary = active_integration(make_integration, sandbox, "v2")
    team = active_integration(lambda: make_integration(TEAM), sandbox, "v2")
    by_hand, elsewhere = shared_meeting(admin_client, sandbox, [primary, team])
    bots.schedule([by_hand.pk], acting_user=admin_user)  # a person's choice stands
    meetingbaas.client("v2").schedule_bot(  # made outside the portal
        team.remote_id,
        config=BotConfig(bot_name="Other tool"),
        event_id=elsewhere.remote_event_id,
        series_id=elsewhere.series_id or None,
    )
    sync(team)

    reconcile_now()

    assert [f.meeting for f in findings(Kind.UNWANTED_BOT)] == [elsewhere]
    assert not findings(Kind.MISSING_BOT)


@pytest.mark.parametrize("role", ["Support", "Auditor"])
def test_only_admins_act_on_bot_findings_by_direct_post(
    role_client, sandbox, make_integration, customer, role
):
    policy(customer, BotPolicy.Mode.RECORD_ALL)
    primary = active_integration(make_integration, sandbox, "v2")
    team = active_integration(lambda: make_integration(TEAM), sandbox, "v2")
    client = role_client(role)
    _, extra = shared_meeting(client, sandbox, [primary, team])
    one_bot_per_meeting_since(customer)
    reconcile_now()
    duplicate = findings(Kind.DUPLICATE_BOT)[0]

    for name in ("remove_duplicate_bot", "schedule_bot"):
        assert client.post(finding_url(name, duplicate)).status_code == 403
    assert bot_at_sandbox(sandbox, extra)
    assert not ActionRecord.objects.filter(action="remove duplicate bot").exists()


def test_a_bot_the_recording_rules_skip_is_unwanted(
    admin_client, sandbox, make_integration, customer
):
    rules = policy(customer, BotPolicy.Mode.RECORD_ALL)
    rules.skipped_title_words = "Quarterly"
    rules.save()
    primary = active_integration(make_integration, sandbox, "v2")
    team = active_integration(lambda: make_integration(TEAM), sandbox, "v2")
    skipped = shared_meeting(admin_client, sandbox, [primary, team])
    assert all(Meeting.objects.get(pk=m.pk).rule_reason for m in skipped)
    for meeting in skipped:  # bots made outside the portal
        meetingbaas.client("v2").schedule_bot(
            meeting.integration.remote_id,
            config=BotConfig(bot_name="Other tool"),
            event_id=meeting.remote_event_id,
            series_id=meeting.series_id or None,
        )
        sync(meeting.integration)

    reconcile_now()

    assert {f.meeting for f in findings(Kind.UNWANTED_BOT)} == set(skipped)
    assert not findings(Kind.MISSING_BOT)


def covered_copy(client, sandbox, make_integration, customer) -> tuple[Meeting, Meeting]:
    """A meeting in two calendars under one bot per meeting: the copy carrying its bot, and
    the copy it covers."""
    BotPolicy.objects.create(customer=customer, mode=BotPolicy.Mode.RECORD_ALL)
    primary = active_integration(make_integration, sandbox, "v2")
    team = active_integration(lambda: make_integration(TEAM), sandbox, "v2")
    carrier, covered = shared_meeting(client, sandbox, [primary, team])
    return carrier, covered


def test_a_copy_covered_by_another_calendars_bot_is_never_missing_one(
    admin_client, sandbox, make_integration, customer
):
    carrier, covered = covered_copy(admin_client, sandbox, make_integration, customer)
    covered.refresh_from_db()
    assert covered.outcome == Meeting.Outcome.COVERED and covered.auto_bot_at is not None
    assert not reconcile_now().bot_findings
    # The carrier's bot removed at Meeting BaaS, not through the portal.
    meetingbaas.client("v2").remove_bot(
        carrier.integration.remote_id, event_id=carrier.remote_event_id
    )
    sync(carrier.integration)
    covered.refresh_from_db()  # judged again with its carrier
    assert covered.outcome_reason == (
        "Covered by the copy on alice@example.com's calendar, which has no bot now (its page "
        "says why)."
    )

    reconcile_now()

    (missing,) = findings(Kind.MISSING_BOT)
    assert missing.meeting == carrier
    admin_client.post(finding_url("schedule_bot", missing))
    assert bot_at_sandbox(sandbox, carrier) and bot_at_sandbox(sandbox, covered) is None


def test_a_missing_bot_found_before_its_copy_was_covered_is_not_scheduled(
    admin_client, sandbox, make_integration, customer
):
    carrier, covered = covered_copy(admin_client, sandbox, make_integration, customer)
    run = reconcile_now()
    # Found by an earlier run, when this copy still stood alone.
    stale = ReconciliationFinding.objects.create(
        run=run,
        kind=Kind.MISSING_BOT,
        meeting=covered,
        integration=covered.integration,
        remote_id=covered.remote_event_id,
        api_version="v2",
    )

    admin_client.post(finding_url("schedule_bot", stale))

    assert bot_at_sandbox(sandbox, covered) is None and bot_at_sandbox(sandbox, carrier)
    stale.refresh_from_db()
    assert stale.outcome == ReconciliationFinding.Outcome.SETTLED
    assert "carries its bot" in stale.reason
    assert not ActionRecord.objects.get(action="schedule bot").succeeded


def test_a_copy_a_person_set_to_always_record_keeps_its_second_bot(
    admin_client, sandbox, make_integration, customer
):
    carrier, covered = covered_copy(admin_client, sandbox, make_integration, customer)
    admin_client.post(
        reverse("admin:calendars_meeting_changelist"),
        {"action": "record_always", "_selected_action": [covered.pk], "confirm": "1"},
    )
    assert bot_at_sandbox(sandbox, carrier) and bot_at_sandbox(sandbox, covered)

    assert not reconcile_now().bot_findings
    # Its own bot lost at Meeting BaaS: missing, although another copy carries the meeting's.
    meetingbaas.client("v2").remove_bot(
        covered.integration.remote_id, event_id=covered.remote_event_id
    )
    sync(covered.integration)
    reconcile_now()
    assert [f.meeting for f in findings(Kind.MISSING_BOT)] == [covered]


def test_a_duplicate_found_before_a_person_set_its_copy_to_always_is_not_removed(
    admin_client, sandbox, make_integration, customer
):
    _, extra = found_duplicate(admin_client, sandbox, make_integration, customer)
    Meeting.objects.filter(pk=extra.pk).update(bot_override=Meeting.Override.ALWAYS)

    admin_client.post(finding_url("remove_duplicate_bot", findings(Kind.DUPLICATE_BOT)[0]))

    assert bot_at_sandbox(sandbox, extra)
    assert findings(Kind.DUPLICATE_BOT)[0].outcome == ReconciliationFinding.Outcome.SETTLED
