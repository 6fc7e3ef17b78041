"""Missed meetings (/admin/calendars/meeting/missed/): meetings that ended without a recording
in a range of days, counted by cause, each cause with its fix; the home page's lane."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from calendars.models import Integration, Meeting, OAuthApp
from tests.support.seeding import integration_of

MISSED = reverse("admin:calendars_meeting_missed")
Outcome = Meeting.Outcome
Cause = Meeting.Cause


@pytest.fixture
def app(db: None) -> OAuthApp:
    return OAuthApp.objects.create(provider="google", name="G", client_id="c", client_secret="s")


@pytest.fixture
def acme(app) -> Integration:
    return integration_of(app, "Acme Corp", "alice@acme.example")


@pytest.fixture
def globex(app) -> Integration:
    return integration_of(app, "Globex", "bob@globex.example")


def local(day: date, hour: int) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour)))


def yesterday() -> date:
    return timezone.localdate() - timedelta(days=1)


def ended(
    integration: Integration,
    outcome: str,
    cause: str = "",
    *,
    day: date | None = None,
    platform: str = "google_meet",
    title: str = "Weekly sync",
) -> Meeting:
    starts = local(day or yesterday(), 10)
    return Meeting.objects.create(
        integration=integration,
        remote_event_id=uuid.uuid4(),
        title=title,
        starts_at=starts,
        ends_at=starts + timedelta(minutes=30),
        synced_at=starts - timedelta(days=1),
        platform=platform,
        outcome=outcome,
        outcome_cause=cause,
        outcome_at=starts + timedelta(minutes=30),
        outcome_reason=f"{outcome} {cause}",
    )


@pytest.fixture
def known_data(acme, globex) -> None:
    """Yesterday: 3 broken calendars, 1 no news and 2 recorded at Acme; 2 failed bots (one on
    Zoom) and 1 left out by the policy at Globex; the day before: 1 more, out of the range."""
    for _ in range(3):
        ended(acme, Outcome.NO_BOT, Cause.CALENDAR_BROKEN)
    ended(acme, Outcome.NO_NEWS)
    for _ in range(2):
        ended(acme, Outcome.RECORDED)
    ended(globex, Outcome.BOT_FAILED, Cause.BOT_ERROR, platform="zoom")
    ended(globex, Outcome.BOT_FAILED, Cause.BOT_ERROR)
    ended(globex, Outcome.NO_BOT, Cause.POLICY)
    ended(globex, Outcome.NO_BOT, Cause.POLICY, day=yesterday() - timedelta(days=1))


def counts(response) -> dict[str, int]:
    assert response.status_code == 200
    return {row["group"].cause: row["group"].count for row in response.context["groups"]}


@pytest.mark.clock
def test_meetings_are_counted_by_cause_over_yesterday_and_today(admin_client, known_data):
    page = admin_client.get(MISSED)

    assert counts(page) == {"calendar_broken": 3, "bot_error": 2, "policy": 1, "no_news": 1}
    assert page.context["total"] == 7
    text = page.content.decode()
    assert "7 meetings ended without a recording" in text
    assert "Fix the calendar connection on its integration&#x27;s page" in text


@pytest.mark.clock
def test_the_filters_narrow_the_counts(admin_client, known_data, acme):
    customer = acme.credential.customer_id

    assert counts(admin_client.get(MISSED, {"customer": customer})) == {
        "calendar_broken": 3,
        "no_news": 1,
    }
    assert counts(admin_client.get(MISSED, {"customer_name": "globe"})) == {
        "bot_error": 2,
        "policy": 1,
    }
    assert counts(admin_client.get(MISSED, {"cause": "bot_error"})) == {"bot_error": 2}
    assert counts(admin_client.get(MISSED, {"platform": "zoom"})) == {"bot_error": 1}
    before = (yesterday() - timedelta(days=1)).isoformat()
    assert counts(admin_client.get(MISSED, {"start": before, "end": before})) == {"policy": 1}


@pytest.mark.clock
def test_a_range_of_more_than_a_month_is_refused_and_the_default_shown(admin_client, known_data):
    page = admin_client.get(MISSED, {"start": "2020-01-01", "end": "2020-06-01"})

    assert "At most 31 days at once." in page.content.decode()
    assert sum(counts(page).values()) == 7


@pytest.mark.clock
def test_each_cause_links_to_the_meetings_list_filtered_alike(admin_client, known_data):
    page = admin_client.get(MISSED)
    (broken,) = [row for row in page.context["groups"] if row["group"].cause == "calendar_broken"]

    listing = admin_client.get(broken["url"])

    assert listing.status_code == 200
    assert listing.context["cl"].result_count == 3


@pytest.mark.clock
def test_the_rows_are_capped_with_a_link_to_every_one(admin_client, acme, monkeypatch):
    monkeypatch.setattr("calendars.admin.meetings.MISSED_LISTED", 2)
    for _ in range(3):
        ended(acme, Outcome.NO_BOT, Cause.NO_URL)

    page = admin_client.get(MISSED)

    assert len(page.context["rows"]) == 2
    assert "The first 2 are listed" in page.content.decode()
    assert admin_client.get(page.context["all_url"]).context["cl"].result_count == 3


@pytest.mark.clock
def test_the_page_costs_the_same_queries_however_many_meetings_are_missed(admin_client, app):
    def queries(n: int) -> int:
        integration = integration_of(app, f"Customer {n}", f"{n}@example.com")
        for cause in (Cause.CALENDAR_BROKEN, Cause.NO_URL):
            for _ in range(n):
                ended(integration, Outcome.NO_BOT, cause)
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(MISSED).status_code == 200
        return len(captured)

    assert queries(2) == queries(10)


@pytest.mark.parametrize("role", ["Admin", "Support", "Auditor"])
def test_every_role_reads_it_and_nobody_changes_anything_by_post(role_client, known_data, role):
    client = role_client(role)
    before = list(Meeting.objects.order_by("pk").values())

    assert client.get(MISSED).status_code == 200
    refused = client.post(MISSED, {"outcome": "recorded", "action": "delete_selected"})

    assert refused.status_code == 405
    assert list(Meeting.objects.order_by("pk").values()) == before


def test_a_person_without_a_role_cannot_read_it(client, known_data):
    user = get_user_model().objects.create_user("nobody", password="pw", is_staff=True)
    client.force_login(user)

    assert client.get(MISSED).status_code == 403


@pytest.mark.clock
def test_the_home_page_lane_counts_yesterdays_missed_meetings(admin_client, known_data, acme):
    ended(acme, Outcome.NO_BOT, Cause.NO_URL, day=timezone.localdate())  # today: not counted

    page = admin_client.get(reverse("admin:index")).content.decode()

    assert "Missed yesterday: 7</a> meetings ended without a recording" in page
    assert f"{MISSED}?start={yesterday().isoformat()}&amp;end={yesterday().isoformat()}" in page
