"""An account manager's question in Debian's chromium: "how did Acme's recordings go last
month?". From Acme's page to the coverage report, which answers it with its chart and tables
and fits a 1440 px window (its wide tables scroll inside it)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, time, timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import Page

from calendars.meetings import coverage
from calendars.models import Meeting, OAuthApp
from calendars.queries.coverage import last_full_month
from tests.support.browser import signed_in_as_support
from tests.support.page_width import scrolled_sideways, wider_than_window
from tests.support.seeding import integration_of

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def support_page(live_server, monkeypatch) -> Iterator[Page]:
    yield from signed_in_as_support(live_server, monkeypatch, timezone_id=settings.TIME_ZONE)


def test_last_month_of_a_customer_in_the_coverage_report(live_server, support_page):
    app = OAuthApp.objects.create(provider="google", name="G", client_id="c", client_secret="s")
    acme = integration_of(app, "Acme Corp", "alice@acme.example")
    month = last_full_month()
    outcomes = [
        (Meeting.Outcome.RECORDED, ""),
        (Meeting.Outcome.RECORDED, ""),
        (Meeting.Outcome.BOT_FAILED, Meeting.Cause.BOT_ERROR),
    ]
    for n, (outcome, cause) in enumerate(outcomes):
        starts = timezone.make_aware(datetime.combine(month.first, time(10 + n)))
        Meeting.objects.create(
            integration=acme,
            remote_event_id=uuid.uuid4(),
            title=f"Call {n}",
            starts_at=starts,
            ends_at=starts + timedelta(minutes=30),
            synced_at=starts,
            outcome=outcome,
            outcome_cause=cause,
        )
    coverage.count_days(month.days)
    page = support_page

    page.goto(f"{live_server.url}/admin/calendars/customer/{acme.credential.customer_id}/change/")
    page.click("a.coverage-link")
    page.wait_for_selector("#coverage-report svg")

    summary = page.locator(".coverage-summary").inner_text()
    assert "Acme Corp" in summary
    assert page.input_value("input[name=start]") == month.first.isoformat()
    assert "3 meetings in the calendars" in summary and "66.7%" in summary
    assert page.locator("#coverage-report svg rect").count() == 2  # recorded, missed
    days = page.locator("table.coverage-days").inner_text().lower()
    assert "missed: the bot failed in the meeting" in days
    assert wider_than_window(page) is None
    assert scrolled_sideways(page) is None
