"""The whole-history export holds every bot a person or the bot policy scheduled or removed,
and every change of a bot policy (its key only as "replaced")."""

from __future__ import annotations

import csv
import io

from django.urls import reverse

from calendars.models import BotPolicy, Meeting
from tests.support.meetings import active_integration, add_event, deliver, sync, webhook

EXPORT = reverse("admin:calendars_history_export")
MEETINGS = reverse("admin:calendars_meeting_changelist")


def export(client, **params) -> list[dict]:
    response = client.get(EXPORT, {"download": "1", **params})
    assert response.status_code == 200 and response.streaming
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_bots_scheduled_and_removed_by_a_person_or_the_policy_are_exported(
    role_client, sandbox, make_integration, customer
):
    BotPolicy.objects.create(customer=customer, mode=BotPolicy.Mode.RECORD_ALL)
    support = role_client("Support")
    integration = active_integration(make_integration, sandbox, "v2")
    event_id = add_event(sandbox, integration, title="Kick-off")
    deliver(
        support, integration, webhook(sandbox, integration, "calendar.event_created", [event_id])
    )
    sync(integration)  # the policy's bot
    meeting = Meeting.objects.get(remote_event_id=event_id)
    support.post(
        MEETINGS, {"action": "remove_bot", "_selected_action": [meeting.pk], "confirm": "1"}
    )

    rows = export(role_client("Auditor"), customer=customer.pk)

    kick_off = [r for r in rows if r["kind"] == "bot" and "Kick-off" in r["summary"]]
    assert [(r["user"], r["summary"]) for r in kick_off] == [
        ("bot policy", "bot: Scheduled by the bot policy on Kick-off (done): Done."),
        ("support-user", "bot: Remove bot on Kick-off (done): Removed."),
    ]
    assert all(r["integration"] == str(integration.pk) for r in kick_off)
    assert all(r["customer"] == customer.name for r in kick_off)


def test_a_bot_policy_change_is_exported_without_its_key(admin_client, customer):
    policy = BotPolicy.objects.create(customer=customer)
    response = admin_client.post(
        reverse("admin:calendars_botpolicy_change", args=[policy.pk]),
        {
            "customer": customer.pk,
            "mode": "record_all",
            "bot_scope": "customer",
            "bot_name": "Acme notes",
            "recording_mode": "speaker_view",
            "transcription_api_key": "tr4nscribe-key",
        },
    )
    assert response.status_code == 302, response.content[:500]

    rows = export(admin_client, customer=customer.pk)

    changed = {
        (r["field"], r["before"], r["after"]) for r in rows if r["summary"] == "bot policy changed"
    }
    assert ("mode", "scheduled_only", "record_all") in changed
    assert ("transcription API key", "", "replaced") in changed
    assert all(
        r["customer"] == customer.name for r in rows if r["summary"].startswith("bot policy")
    )
    assert "tr4nscribe-key" not in str(rows)
