"""The morning view in a real browser: open "Meetings at risk", schedule the missing bot, and
see the meeting leave the list. The sandbox sends its webhooks to the live portal, whose
cluster mirrors the meeting."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from calendars.meetings import bots
from calendars.models import BotPolicy, Meeting
from tests.support.browser import log_in, wait_for_text
from tests.support.meetings import active_integration, add_event
from tests.support.screenshots import Screenshots
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_support_schedules_the_missing_bot_from_the_morning_view(
    portal, browser, sandbox, make_integration, customer, tmp_path
):
    get_user_model().objects.create_user("sam", password="pw")
    call_command("assign_role", "sam", "support")
    BotPolicy.objects.create(customer=customer, bot_name="Acme notes")
    integration = active_integration(make_integration, sandbox, "v2")
    event_id = add_event(sandbox, integration, title="Renewal call with Globex", in_hours=3)
    assert wait_until(lambda: Meeting.objects.filter(remote_event_id=event_id).exists())
    meeting = Meeting.objects.get(remote_event_id=event_id)
    # Yesterday's attempt was refused: the morning view must say so.
    sandbox.fault("POST", f"/v2/calendars/{integration.remote_id}/bots", "status", status=503)
    bots.schedule([meeting.pk], acting_user=None)
    shots = Screenshots(tmp_path / "screenshots")
    at_risk = f"{portal}/admin/calendars/meeting/at-risk/"

    page = log_in(browser, portal, "sam")
    page.click("#meetings-at-risk-lane + p a")
    page.wait_for_selector("table.meetings-at-risk")
    assert page.url == at_risk
    row = page.locator("tr", has_text="Renewal call with Globex")
    assert "Scheduling its bot failed" in row.inner_text()
    shots.take(page, "at-risk")

    row.locator("button", has_text="Schedule bot").click()
    page.wait_for_selector("text=Yes, go ahead")
    shots.take(page, "confirm")
    page.click("text=Yes, go ahead")

    page.wait_for_selector(".messagelist .success")
    assert page.url == at_risk
    wait_for_text(page, at_risk, "No meeting in the next 24 h is at risk.")
    shots.take(page, "none-left")
    meeting.refresh_from_db()
    assert meeting.has_bot
