"""A customer's ticket in Debian's chromium: "no bot in my 10 o'clock yesterday". Support goes
from the home page's lane to Missed meetings, narrows it to the customer, and opens the
meeting, whose page gives the answer: its calendar was broken at the time (fixed since). The
missed meetings view fits a 1440 px window."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, time, timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import Page

from calendars.meetings import outcomes
from calendars.models import BotPolicy, Integration, Meeting, OAuthApp, StatusChange
from calendars.status import Cause
from tests.support.browser import signed_in_as_support
from tests.support.page_width import scrolled_sideways, wider_than_window
from tests.support.seeding import integration_of

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def support_page(live_server, monkeypatch) -> Iterator[Page]:
    """A 1440 px wide browser window signed in as Support, in the portal's time zone."""
    yield from signed_in_as_support(live_server, monkeypatch, timezone_id=settings.TIME_ZONE)


def became(integration: Integration, status: str, at: datetime) -> None:
    StatusChange.objects.create(
        integration=integration, to_status=status, changed_at=at, cause=Cause.REFRESH
    )


def ten_o_clock_yesterday(integration: Integration, title: str) -> Meeting:
    day = timezone.localdate() - timedelta(days=1)
    starts = timezone.make_aware(datetime.combine(day, time(10)))
    return Meeting.objects.create(
        integration=integration,
        remote_event_id=uuid.uuid4(),
        title=title,
        starts_at=starts,
        ends_at=starts + timedelta(minutes=30),
        synced_at=starts - timedelta(hours=12),
        meeting_url="https://meet.google.com/abc-defg-hij",
        platform="google_meet",
    )


def test_support_answers_no_bot_in_my_ten_o_clock_yesterday(live_server, support_page):
    app = OAuthApp.objects.create(provider="google", name="G", client_id="c", client_secret="s")
    acme = integration_of(app, "Acme Corp", "alice@acme.example")
    other = integration_of(app, "Globex", "bob@globex.example")
    BotPolicy.objects.create(customer=acme.credential.customer, mode=BotPolicy.Mode.RECORD_ALL)
    meeting = ten_o_clock_yesterday(acme, "Pipeline review with Initech")
    # Hostile text from elsewhere must wrap, not widen the page.
    failed = ten_o_clock_yesterday(other, "Globex board call " + "x" * 400)
    Meeting.objects.filter(pk=failed.pk).update(
        has_bot=True, bot_error_code="BOT_CRASHED", bot_error_message="trace:" + "0" * 1500
    )
    # Broken an hour before the meeting, fixed an hour after: active now.
    became(acme, "active", meeting.starts_at - timedelta(days=20))
    became(acme, "error", meeting.starts_at - timedelta(hours=1))
    became(acme, "active", meeting.ends_at + timedelta(hours=1))
    Integration.objects.filter(pk=acme.pk).update(status="active")
    outcomes.refresh(Meeting.objects.values_list("pk", flat=True))
    page = support_page

    page.goto(f"{live_server.url}/admin/")
    page.click("p.missed-lane a")
    page.wait_for_selector("#missed-meetings")
    assert "Missed meetings" in page.title()
    page.wait_for_selector("table.missed-meetings")
    assert wider_than_window(page) is None
    assert scrolled_sideways(page) is None
    page.fill("input[name=customer_name]", "Acme")
    page.click("#missed-meetings button[type=submit]")
    page.wait_for_selector("table.missed-meetings")
    rows = page.locator("table.missed-meetings tbody tr")
    assert rows.count() == 1
    row = rows.first
    assert "Pipeline review with Initech" in row.inner_text()
    assert "The calendar was broken at the time" in row.inner_text()

    row.locator("a", has_text="Pipeline review with Initech").click()
    page.wait_for_selector("table.meeting-timeline")
    answer = page.locator(".field-outcome_words").inner_text()
    assert "No bot (The calendar was broken at the time)" in answer
    assert "Its calendar connection was in error when it began" in answer
    timeline = page.locator("table.meeting-timeline").inner_text()
    assert timeline.index("Meeting began") < timeline.index("Meeting ended")
