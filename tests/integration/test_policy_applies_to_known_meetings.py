"""A "record every meeting" policy saved reaches the meetings the portal already knows: a bulk
job asks each one's bot, with its progress, and a meeting's page says why it has no bot yet."""

from __future__ import annotations

import pytest
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from calendars.actions import bulk
from calendars.actions.refresh import refresh_integration
from calendars.meetings import bots
from calendars.meetings.policy import wanting_a_bot
from calendars.models import BotAttempt, BotPolicy, BulkJob, Integration, Meeting
from tests.support.meetings import active_integration, sync

FORM = {
    "mode": "record_all",
    "bot_scope": "customer",
    "bot_name": "Acme notes",
    "recording_mode": "speaker_view",
    "bot_image": "",
    "entry_message": "",
    "waiting_room_timeout": 600,
    "no_one_joined_timeout": 600,
    "silence_timeout": 600,
    "transcription_api_key": "",
}


@pytest.fixture
def policy(customer):
    return BotPolicy.objects.create(customer=customer, mode=BotPolicy.Mode.SCHEDULED_ONLY)


@pytest.fixture
def integration(sandbox, make_integration):
    return active_integration(make_integration, sandbox, "v2")


def save_policy(client, policy: BotPolicy, **changes):
    """Save the policy in the admin, with what its saving queues run as it commits."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(
            reverse("admin:calendars_botpolicy_change", args=[policy.pk]),
            {**FORM, "customer": policy.customer_id, **changes},
        )


def wanting(integration: Integration) -> list[Meeting]:
    """The integration's known upcoming meetings a "record every meeting" policy wants a bot on."""
    return list(wanting_a_bot(Meeting.objects.filter(integration=integration)))


@pytest.mark.clock
def test_saving_record_every_meeting_schedules_the_known_meetings_bots_in_a_job(
    role_client, sandbox, integration, policy
):
    sync(integration)  # the meetings are known, under a policy that records none of them
    waiting = wanting(integration)
    assert len(waiting) >= 3
    client = role_client("Support")

    response = save_policy(client, policy)

    job = BulkJob.objects.get()
    assert job.kind == BulkJob.Kind.APPLY_POLICY
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:calendars_bulkjob_change", args=[job.pk])
    progress = bulk.progress(job)
    assert (progress.total, progress.done, progress.finished) == (1, 1, True)
    assert progress.summary == "1 done."
    for meeting in waiting:
        meeting.refresh_from_db()
        assert meeting.has_bot and meeting.bot_summary.startswith("Acme notes")
    sent = sandbox.requests_to("POST", f"/v2/calendars/{integration.remote_id}/bots")
    assert sorted(r["json"]["event_id"] for r in sent) == sorted(
        str(m.remote_event_id) for m in waiting
    )
    assert BotAttempt.objects.filter(action="policy", succeeded=True).count() == len(waiting)
    page = client.get(response["Location"]).content.decode()
    assert f"{len(waiting)} meeting(s) got their bot." in page

    # Saved again, nothing is left to ask: no second job, no second bot.
    save_policy(client, policy)
    assert BulkJob.objects.count() == 1
    assert len(sandbox.requests_to("POST", f"/v2/calendars/{integration.remote_id}/bots")) == len(
        sent
    )


def test_a_calendar_not_active_is_left_not_done_saying_why(
    role_client, sandbox, integration, make_integration, policy
):
    sync(integration)
    broken = refresh_integration(make_integration("alice.team@group.calendar.google.com").pk)
    sync(broken)
    Integration.objects.filter(pk=broken.pk).update(status="error")

    save_policy(role_client("Support"), policy)

    job = BulkJob.objects.get()
    item = job.items.get(integration=broken)
    assert item.state == "not_fixed"
    assert item.reason.startswith("Its calendar connection is in error: Meeting BaaS sends no bot")
    assert sandbox.requests_to("POST", f"/v2/calendars/{broken.remote_id}/bots") == []
    assert job.items.get(integration=integration).state == "done"
    assert bulk.progress(job).summary == "1 done, 1 not done: see below."


def test_a_policy_that_does_not_record_every_meeting_starts_no_job(
    role_client, sandbox, integration, policy
):
    sync(integration)

    save_policy(role_client("Support"), policy, mode="scheduled_only")

    assert not BulkJob.objects.exists()
    assert sandbox.requests_to("POST", f"/v2/calendars/{integration.remote_id}/bots") == []


def test_the_meeting_page_says_why_it_has_no_bot_yet(role_client, sandbox, integration, policy):
    sync(integration)
    meeting = wanting(integration)[0]
    client = role_client("Auditor")
    url = reverse("admin:calendars_meeting_change", args=[meeting.pk])

    assert (
        "does not record every meeting: schedule its bot here" in client.get(url).content.decode()
    )

    BotPolicy.objects.filter(pk=policy.pk).update(mode=BotPolicy.Mode.RECORD_ALL)
    page = client.get(url).content.decode()
    assert "Why no bot yet" in page
    assert "The policy has not asked for its bot yet" in page

    Integration.objects.filter(pk=integration.pk).update(status="error")
    page = client.get(url).content.decode()
    assert "Its calendar connection is in error: Meeting BaaS cannot send a bot" in page


def test_the_meeting_page_names_the_job_applying_the_policy_while_it_runs(
    role_client, sandbox, integration, policy
):
    sync(integration)
    meeting = wanting(integration)[0]
    BotPolicy.objects.filter(pk=policy.pk).update(mode=BotPolicy.Mode.RECORD_ALL)
    job = BulkJob.objects.create(kind=BulkJob.Kind.APPLY_POLICY, description="1 integration")
    job.items.create(integration=integration)

    page = role_client("Auditor").get(reverse("admin:calendars_meeting_change", args=[meeting.pk]))

    job_page = reverse("admin:calendars_bulkjob_change", args=[job.pk])
    assert (
        f'The policy is being applied to the known meetings: <a href="{job_page}">job {job.pk}</a>'
        in page.content.decode()
    )


def test_the_meeting_page_says_the_policy_asks_only_once(role_client, sandbox, integration, policy):
    sync(integration)
    meeting = wanting(integration)[0]
    BotPolicy.objects.filter(pk=policy.pk).update(mode=BotPolicy.Mode.RECORD_ALL)
    Meeting.objects.filter(pk=meeting.pk).update(auto_bot_at=timezone.now())
    bots.attempt(meeting, BotAttempt.Action.POLICY, True, "Done.")  # then removed at Meeting BaaS

    page = role_client("Auditor").get(reverse("admin:calendars_meeting_change", args=[meeting.pk]))

    assert "asks only once per meeting: a bot someone removed stays removed" in (
        page.content.decode()
    )
