"""Times are stored and compared in UTC and shown to people in TIME_ZONE, named: a meeting at
09:00 in Paris on the morning Europe's clocks go forward shows at 09:00 CEST, and that day is
23 hours long for the Meetings list's "Today"."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from calendars.admin.meetings import StartsFilter
from calendars.models import Meeting, OAuthApp
from tests.support.seeding import integration_of

PARIS = ZoneInfo("Europe/Paris")
CHANGE_DAY = datetime(2027, 3, 28, tzinfo=PARIS)  # 02:00 CET becomes 03:00 CEST


@pytest.fixture(autouse=True)
def paris_on_the_morning_of_the_change(settings) -> Iterator[None]:
    # Autouse: the login and the rows are made at that moment too.
    settings.TIME_ZONE = "Europe/Paris"
    with time_machine.travel(datetime(2027, 3, 28, 1, 0, 1, tzinfo=UTC), tick=False):
        yield


@pytest.fixture
def meeting(db: None) -> Meeting:
    app = OAuthApp.objects.create(provider="google", name="G", client_id="c", client_secret="s")
    start = CHANGE_DAY.replace(hour=9)
    return Meeting.objects.create(
        integration=integration_of(app, "Acme Corp", "alice@example.com"),
        remote_event_id=uuid.uuid4(),
        title="Sunday review",
        starts_at=start,
        ends_at=start + timedelta(minutes=30),
        synced_at=start - timedelta(days=1),
    )


def test_a_meeting_at_nine_in_paris_on_the_day_of_the_change_shows_at_nine(admin_client, meeting):
    meeting.refresh_from_db()
    assert meeting.starts_at == datetime(2027, 3, 28, 7, 0, tzinfo=UTC)  # stored in UTC

    listing = admin_client.get(reverse("admin:calendars_meeting_changelist")).content.decode()
    page = admin_client.get(
        reverse("admin:calendars_meeting_change", args=[meeting.pk])
    ).content.decode()

    assert "2027-03-28 09:00 CEST" in listing and "until 09:30" in listing
    assert "2027-03-28 09:00 CEST" in page
    assert "07:00" not in listing


def test_today_on_the_day_of_the_change_is_twenty_three_hours(admin_client, meeting):
    start, end = StartsFilter.bounds("today", datetime.now(UTC))

    assert (start, end) == (CHANGE_DAY, CHANGE_DAY + timedelta(days=1))
    # Python subtracts two times of one zone as wall clocks: the instants are what count.
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=23)
    listing = admin_client.get(
        reverse("admin:calendars_meeting_changelist"), {"starts": "today"}
    ).content.decode()
    assert "Sunday review" in listing


@time_machine.travel(datetime(2027, 3, 27, 23, 30, tzinfo=UTC), tick=False)
def test_the_week_of_the_change_is_167_hours_from_paris_mondays():
    start, end = StartsFilter.bounds("this_week", datetime.now(UTC))

    assert start == datetime(2027, 3, 22, tzinfo=PARIS)  # Sunday 00:30 in Paris: its Monday
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=167)
