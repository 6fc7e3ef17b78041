"""The plan's daily bot cap (MEETINGBAAS_BOTS_PER_DAY): bots counted per UTC day, the meetings
past the cap listed on "Meetings at risk" in start order, tomorrow's bots on the home page."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from calendars.limits import daily_bots
from calendars.models import Integration, Meeting, OAuthApp
from tests.support.seeding import integration_of

AT_RISK = reverse("admin:calendars_meeting_at_risk")
# 22:30 UTC on a Monday, 11:30 on Tuesday in Auckland: "today" and "tomorrow" are UTC's days.
NOW = datetime(2026, 12, 7, 22, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def late_on_a_monday_utc(settings) -> Iterator[None]:
    settings.TIME_ZONE = "Pacific/Auckland"
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def acme(db) -> Integration:
    app = OAuthApp.objects.create(provider="google", name="G", client_id="c", client_secret="s")
    return integration_of(app, "Acme Corp", "alice@acme.example")


def bot_at(integration: Integration, starts: datetime, title: str, **fields: object) -> Meeting:
    return Meeting.objects.create(
        integration=integration,
        remote_event_id=uuid.uuid4(),
        title=title,
        starts_at=starts,
        ends_at=starts + timedelta(minutes=30),
        synced_at=NOW,
        meeting_url="https://meet.google.com/abc-defg-hij",
        has_bot=True,
        **fields,
    )


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC)


def test_bots_are_counted_per_utc_day_and_those_past_the_cap_are_cut_in_start_order(settings, acme):
    settings.MEETINGBAAS_BOTS_PER_DAY = 2
    bot_at(acme, at(7, 9), "Joined this morning")  # today's bots that joined count too
    bot_at(acme, at(7, 23), "Tonight")
    bot_at(acme, at(7, 23, 30), "Tonight, later")  # the third of the UTC day: cut
    bot_at(acme, at(8, 0, 10), "Just after midnight UTC")  # a new day
    bot_at(acme, at(8, 12), "Cancelled", is_cancelled=True)
    Meeting.objects.create(  # no bot: nothing to cut
        integration=acme,
        remote_event_id=uuid.uuid4(),
        title="No bot",
        starts_at=at(8, 13),
        ends_at=at(8, 14),
        synced_at=NOW,
    )
    for minute in (50, 10, 30):  # tomorrow: four bots with the one after midnight
        bot_at(acme, at(8, 15, minute), f"Tomorrow 15:{minute}")

    over = daily_bots.over_the_cap()

    assert [(day.day.isoformat(), day.more) for day in over] == [
        ("2026-12-07", False),
        ("2026-12-08", False),
    ]
    assert [[m.title for m in day.cut] for day in over] == [
        ["Tonight, later"],
        ["Tomorrow 15:30", "Tomorrow 15:50"],
    ]
    assert daily_bots.tomorrows_bots() == 4


def test_a_day_far_over_the_cap_lists_its_first_cut_meetings(settings, acme, monkeypatch):
    monkeypatch.setattr(daily_bots, "CUT_LISTED", 2)
    settings.MEETINGBAAS_BOTS_PER_DAY = 1
    for hour in (9, 10, 11, 12):
        bot_at(acme, at(9, hour), f"At {hour}")

    (day,) = daily_bots.over_the_cap()

    assert ([m.title for m in day.cut], day.more) == (["At 10", "At 11"], True)


def test_a_day_at_the_cap_is_not_over_it_and_no_cap_set_lists_nothing(settings, acme):
    for hour in (9, 10):
        bot_at(acme, at(8, hour), f"At {hour}")
    settings.MEETINGBAAS_BOTS_PER_DAY = 2
    assert daily_bots.over_the_cap() == []
    settings.MEETINGBAAS_BOTS_PER_DAY = 0
    assert daily_bots.over_the_cap() == []


def test_meetings_at_risk_names_the_meetings_the_cap_would_cut(admin_client, settings, acme):
    settings.MEETINGBAAS_BOTS_PER_DAY = 1
    bot_at(acme, at(8, 9), "Kept standup")
    cut = bot_at(acme, at(8, 11), "Board <b>review</b>")

    page = admin_client.get(AT_RISK).content.decode()
    section = page[page.index('id="over-bot-cap"') :]

    assert "1 bot past the cap" in section
    assert "Board &lt;b&gt;review&lt;/b&gt;" in section
    assert reverse("admin:calendars_meeting_change", args=[cut.pk]) in section
    assert "Kept standup" not in section


def test_meetings_at_risk_says_when_no_cap_is_set(admin_client, settings, acme):
    settings.MEETINGBAAS_BOTS_PER_DAY = 0
    bot_at(acme, at(8, 9), "Standup")

    page = admin_client.get(AT_RISK).content.decode()

    assert "No daily bot cap is set (<code>MEETINGBAAS_BOTS_PER_DAY</code>)" in page


@pytest.mark.parametrize("role", ["Admin", "Support", "Auditor"])
def test_the_home_page_shows_tomorrows_bots_against_the_cap(role_client, settings, acme, role):
    settings.MEETINGBAAS_BOTS_PER_DAY = 2
    bot_at(acme, at(7, 23), "Tonight")  # today's, not tomorrow's
    for hour in (9, 10, 11):
        bot_at(acme, at(8, hour), f"At {hour}")

    page = role_client(role).get(reverse("admin:index")).content.decode()

    assert "Tomorrow (UTC day): 3 bots of the plan's 2 a day" in page
    assert "over the plan's daily bot limit" in page


def test_the_home_page_says_no_daily_cap_is_set(admin_client, settings, acme):
    settings.MEETINGBAAS_BOTS_PER_DAY = 0
    bot_at(acme, at(8, 9), "Standup")

    page = admin_client.get(reverse("admin:index")).content.decode()

    assert "Tomorrow (UTC day): 1 bot; no daily bot cap set" in page
