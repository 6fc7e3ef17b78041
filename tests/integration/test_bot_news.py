"""Bot news in: the v2 bot webhooks applied to meetings (repeated, out of order, matched by event
or by the meeting in `extra`, unknown bots recorded), and the poll of the bots lists that
recovers a lost webhook, on both API versions."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from calendars import tasks
from calendars.lib.remote_values import CUT_MARK
from calendars.meetingbaas import v1, v2
from calendars.meetings import bots
from calendars.models import BotPolicy, Meeting, WebhookDelivery
from tests.support.meetings import active_integration, add_event, deliver, webhook
from tests.support.webhook_signing import post, svix_headers

Outcome = WebhookDelivery.Outcome


@pytest.fixture
def policy(customer):
    return BotPolicy.objects.create(customer=customer, bot_name="Acme notes")


def meeting_with_bot(client, sandbox, make_integration, version: str, **event) -> Meeting:
    """A meeting of the sandbox's calendar, mirrored, with the bot the portal scheduled."""
    integration = active_integration(make_integration, sandbox, version)
    event_id = add_event(sandbox, integration, **event)
    deliver(
        client, integration, webhook(sandbox, integration, "calendar.event_created", [event_id])
    )
    meeting = Meeting.objects.get(remote_event_id=event_id)
    (outcome,) = bots.schedule([meeting.pk], acting_user=None)
    assert outcome.succeeded, outcome.message
    return meeting


def play(sandbox, meeting: Meeting, **fate) -> list[dict]:
    """Play the meeting's bot's whole story now; the v2 webhooks it sends (none are delivered:
    the sandbox has no webhook URL in these tests)."""
    answer = sandbox.control("POST", f"bots/{meeting.remote_event_id}", {"now": True, **fate})
    return answer["webhooks"]


def send(client, body: dict, *, msg_id: str | None = None) -> WebhookDelivery:
    text = json.dumps(body)
    post(client, text, **svix_headers(text, msg_id=msg_id))
    return WebhookDelivery.objects.order_by("-pk").first()


def ended(meeting: Meeting, *, hours_ago: float = 1) -> None:
    """Move the mirrored meeting into the past, as if it had ended `hours_ago`."""
    end = timezone.now() - timedelta(hours=hours_ago)
    Meeting.objects.filter(pk=meeting.pk).update(starts_at=end - timedelta(minutes=30), ends_at=end)


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_every_bot_the_portal_schedules_names_its_meeting_in_extra(
    client, sandbox, make_integration, policy, version
):
    meeting = meeting_with_bot(client, sandbox, make_integration, version)

    (bot,) = sandbox.control("GET", "bots")
    assert bot["extra"] == {"portal_meeting_id": str(meeting.pk)}
    assert bot["event_id"] == str(meeting.remote_event_id)


def test_webhooks_repeated_and_out_of_order_end_at_the_final_word(
    client, sandbox, make_integration, policy
):
    meeting = meeting_with_bot(client, sandbox, make_integration, "v2")
    joining, recording, completed = play(sandbox, meeting, outcome="completed")
    assert [b["event"] for b in (joining, recording, completed)] == [
        "bot.status_change",
        "bot.status_change",
        "bot.completed",
    ]

    first = send(client, completed, msg_id="msg_completed")
    again = send(client, completed, msg_id="msg_completed")  # Svix retries the same message
    # Even a status stamped after the final word (clocks disagree) never undoes it.
    afterwards = json.loads(json.dumps(recording))
    afterwards["data"]["status"]["created_at"] = timezone.now().isoformat()
    late = [send(client, recording), send(client, joining), send(client, afterwards)]

    assert again.pk == first.pk and again.repeats == 1
    assert first.outcome == Outcome.APPLIED and first.integration_id == meeting.integration_id
    assert [d.outcome for d in late] == [Outcome.STALE] * 3
    meeting.refresh_from_db()
    data = completed["data"]
    assert meeting.bot_status == "completed"
    assert str(meeting.bot_id) == data["bot_id"]
    assert meeting.bot_joined_at.isoformat().startswith(data["joined_at"][:19])
    assert meeting.bot_exited_at.isoformat().startswith(data["exited_at"][:19])
    assert meeting.bot_duration_seconds == data["duration_seconds"] == 1


def test_an_older_status_never_replaces_a_newer_one(client, sandbox, make_integration, policy):
    meeting = meeting_with_bot(client, sandbox, make_integration, "v2")
    joining, recording, _ = play(sandbox, meeting, outcome="completed")

    assert send(client, recording).outcome == Outcome.APPLIED
    assert send(client, joining).outcome == Outcome.STALE

    meeting.refresh_from_db()
    assert meeting.bot_status == "in_call_recording"
    assert meeting.bot_joined_at is not None and str(meeting.bot_id) == recording["data"]["bot_id"]


def test_a_failed_bot_keeps_its_code_and_message_bounded(client, sandbox, make_integration, policy):
    meeting = meeting_with_bot(client, sandbox, make_integration, "v2")
    joining, failed = play(sandbox, meeting, outcome="failed", error_code="MEETING_NOT_FOUND")
    failed["data"]["error_message"] = "No such meeting. " + "x" * 5000

    send(client, failed)
    assert send(client, joining).outcome == Outcome.STALE  # never undoes the failure

    meeting.refresh_from_db()
    assert (meeting.bot_status, meeting.bot_error_code) == ("failed", "MEETING_NOT_FOUND")
    assert meeting.bot_error_message.startswith("No such meeting.")
    assert len(meeting.bot_error_message) == 2000 and meeting.bot_error_message.endswith(CUT_MARK)


def test_a_bot_without_its_event_is_matched_by_the_meeting_in_extra(
    client, sandbox, make_integration, policy
):
    meeting = meeting_with_bot(client, sandbox, make_integration, "v2")
    *_, completed = play(sandbox, meeting, outcome="completed")
    completed["data"]["event_id"] = None

    assert send(client, completed).outcome == Outcome.APPLIED

    meeting.refresh_from_db()
    assert meeting.bot_status == "completed"


def test_an_unknown_bot_is_recorded_not_an_error(client, sandbox, make_integration, policy):
    meeting = meeting_with_bot(client, sandbox, make_integration, "v2")
    *_, completed = play(sandbox, meeting, outcome="completed")
    completed["data"] |= {"bot_id": str(uuid.uuid4()), "event_id": str(uuid.uuid4())}
    completed["extra"] = None

    delivery = send(client, completed)

    assert (delivery.outcome, delivery.error, delivery.integration) == (Outcome.RECORDED, "", None)
    meeting.refresh_from_db()
    assert meeting.bot_status == "" and meeting.bot_id is None


def test_a_completed_bots_recording_links_are_never_stored(
    client, sandbox, make_integration, policy
):
    meeting = meeting_with_bot(client, sandbox, make_integration, "v2")
    *_, completed = play(sandbox, meeting, outcome="completed")
    signed = "https://s3.example/recording.mp4?X-Amz-Signature=abc"
    completed["data"] |= {"video": signed, "audio": signed, "transcription": signed}

    delivery = send(client, completed)

    assert signed not in json.dumps(delivery.payload)
    assert delivery.outcome == Outcome.APPLIED


@pytest.mark.parametrize(
    ("version", "path"), [("v2", "/v2/bots"), ("v1", "/bots/bots_with_metadata")]
)
def test_the_poll_recovers_a_lost_webhook(client, sandbox, make_integration, policy, version, path):
    recorded = meeting_with_bot(client, sandbox, make_integration, version)
    failed_id = add_event(sandbox, recorded.integration, title="Second call", in_hours=3)
    deliver(
        client,
        recorded.integration,
        webhook(sandbox, recorded.integration, "calendar.event_created", [failed_id]),
    )
    failing = Meeting.objects.get(remote_event_id=failed_id)
    bots.schedule([failing.pk], acting_user=None)
    play(sandbox, recorded, outcome="completed")
    play(sandbox, failing, outcome="failed", error_code="BOT_NOT_ACCEPTED")
    ended(recorded, hours_ago=1)
    ended(failing, hours_ago=2)
    calls = len(sandbox.requests_to("GET", path))

    said = tasks.poll_bot_news()

    recorded.refresh_from_db()
    failing.refresh_from_db()
    assert recorded.bot_status == "completed" and recorded.bot_joined_at is not None
    assert recorded.bot_exited_at is not None and recorded.bot_id is not None
    assert (failing.bot_status, failing.bot_error_code) == ("failed", "BOT_NOT_ACCEPTED")
    (asked,) = sandbox.requests_to("GET", path)[calls:]
    oldest_start = failing.starts_at - timedelta(hours=1)
    assert asked["query"]["ended_after"].startswith(oldest_start.strftime("%Y-%m-%dT%H:%M"))
    assert said.startswith("2 meetings waiting, 1 call, 2 applied")
    # Nothing waits any more: the next poll makes no call.
    assert tasks.poll_bot_news().startswith("0 meetings waiting, 0 calls")


@pytest.mark.parametrize(("version", "module"), [("v2", v2), ("v1", v1)])
def test_the_poll_follows_cursor_pages_and_leaves_recent_meetings_to_their_webhook(
    client, sandbox, make_integration, policy, monkeypatch, version, module
):
    page_size = "PAGE_SIZE" if version == "v2" else "BOT_PAGE"
    monkeypatch.setattr(module, page_size, 1)
    first = meeting_with_bot(client, sandbox, make_integration, version, title="First")
    integration = first.integration
    meetings = [first]
    for title in ("Second", "Third"):
        event_id = add_event(sandbox, integration, title=title, in_hours=3)
        body = webhook(sandbox, integration, "calendar.event_created", [event_id])
        deliver(client, integration, body)
        meetings.append(Meeting.objects.get(remote_event_id=event_id))
        bots.schedule([meetings[-1].pk], acting_user=None)
    for meeting in meetings:
        play(sandbox, meeting, outcome="completed")
    ended(meetings[0], hours_ago=3)
    ended(meetings[1], hours_ago=2)
    ended(meetings[2], hours_ago=0.05)  # three minutes ago: its webhook may still come

    said = tasks.poll_bot_news()

    statuses = [Meeting.objects.get(pk=m.pk).bot_status for m in meetings]
    assert statuses == ["completed", "completed", ""]
    assert said.startswith("2 meetings waiting, 2 calls, 2 applied")


def test_the_deliveries_list_filters_by_the_bot_events(admin_client):
    page = admin_client.get(reverse("admin:calendars_webhookdelivery_changelist"))

    for event in ("bot.status_change", "bot.completed", "bot.failed"):
        assert f"?event={event}".encode() in page.content


def test_a_malformed_bot_webhook_fails_saying_why_and_changes_nothing(
    client, sandbox, make_integration, policy
):
    meeting = meeting_with_bot(client, sandbox, make_integration, "v2")
    *_, completed = play(sandbox, meeting, outcome="completed")
    completed["data"]["bot_id"] = "not-a-bot"

    delivery = send(client, completed)

    assert delivery.outcome == Outcome.FAILED
    assert delivery.error.startswith("Could not be read: 'bot_id' is not a UUID")
    meeting.refresh_from_db()
    assert meeting.bot_status == ""


def test_a_v1_delivery_cannot_claim_to_be_bot_news(client, sandbox, make_integration, policy):
    meeting = meeting_with_bot(client, sandbox, make_integration, "v1")
    (bot,) = sandbox.control("GET", "bots")
    body = {
        "event": "bot.failed",
        "data": {"bot_id": bot["bot_id"], "event_id": bot["event_id"], "error_code": "X"},
        "extra": bot["extra"],
    }

    post(client, json.dumps(body), HTTP_X_MEETING_BAAS_API_KEY="test-key")

    assert WebhookDelivery.objects.get(event="bot.failed").outcome == Outcome.UNKNOWN_EVENT
    meeting.refresh_from_db()
    assert meeting.bot_status == ""


def test_the_meetings_outcome_follows_its_bots_news(client, sandbox, make_integration, policy):
    meeting = meeting_with_bot(client, sandbox, make_integration, "v2")
    _, recording, completed = play(sandbox, meeting, outcome="completed")

    send(client, recording)
    meeting.refresh_from_db()
    assert meeting.outcome == Meeting.Outcome.RECORDING
    send(client, completed)
    meeting.refresh_from_db()
    assert meeting.outcome == Meeting.Outcome.RECORDED
