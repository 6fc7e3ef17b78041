"""A "record every meeting" policy saved in a real browser reaches the meetings the portal
knows already: the save opens the job that asks their bots, which ends done, and each
meeting's page then shows its bot (before, it said why it had none)."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from calendars.meetings.policy import wanting_a_bot
from calendars.models import BotPolicy, BulkJob, Meeting
from tests.support.browser import log_in, wait_for_text
from tests.support.meetings import active_integration, sync
from tests.support.screenshots import Screenshots

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_support_saves_record_every_meeting_and_the_known_meetings_get_their_bots(
    portal, browser, sandbox, make_integration, customer, tmp_path
):
    get_user_model().objects.create_user("sam", password="pw")
    call_command("assign_role", "sam", "support")
    policy = BotPolicy.objects.create(
        customer=customer, mode=BotPolicy.Mode.SCHEDULED_ONLY, bot_name="Acme notes"
    )
    integration = active_integration(make_integration, sandbox, "v2")
    sync(integration)
    waiting = list(wanting_a_bot(Meeting.objects.filter(integration=integration)))
    assert waiting
    meeting_url = f"{portal}/admin/calendars/meeting/{waiting[0].pk}/change/"
    shots = Screenshots(tmp_path / "screenshots")

    page = log_in(browser, portal, "sam")
    page.goto(meeting_url)
    assert "does not record every meeting" in page.inner_text("body")
    page.goto(f"{portal}/admin/calendars/botpolicy/{policy.pk}/change/")
    page.select_option("#id_mode", "record_all")
    page.click("input[name=_save]")

    page.wait_for_selector("#job-progress")
    job = BulkJob.objects.get()
    assert page.url == f"{portal}/admin/calendars/bulkjob/{job.pk}/change/"
    assert "now being applied to the known upcoming meetings" in page.inner_text(".messagelist")
    wait_for_text(page, page.url, "Finished.")
    assert "1 done." in page.inner_text("#progress-summary")
    # Those known at the save, and any the sandbox's webhooks brought in the meantime.
    got = re.search(r"(\d+) meeting\(s\) got their bot\.", page.inner_text("table.job-items"))
    assert got and int(got[1]) >= len(waiting)
    shots.take(page, "job")
    page.goto(meeting_url)
    assert "Scheduled" in page.inner_text("body")
    assert Meeting.objects.filter(pk__in=[m.pk for m in waiting], has_bot=False).count() == 0
