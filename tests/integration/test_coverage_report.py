"""The coverage report (/admin/calendars/meeting/coverage/): a customer's recordings (or every
customer's) per day and per week, from the daily counts calendars/meetings/coverage.py keeps."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from calendars.meetings import coverage
from calendars.models import CoverageDay, Integration, Meeting, OAuthApp
from calendars.queries.coverage import last_full_month
from tests.support.seeding import integration_of

REPORT = reverse("admin:calendars_meeting_coverage")
Outcome = Meeting.Outcome
Cause = Meeting.Cause
PARIS = ZoneInfo("Europe/Paris")
# Every meeting below has ended; the range's days are well within the kept history.
NOW = datetime(2027, 4, 10, 12, 0, tzinfo=UTC)
# Saturday before Europe's clocks go forward (Sunday 28 March 2027) to the Friday after:
# two weeks, the second across the end of the month.
RANGE = {"start": "2027-03-27", "end": "2027-04-02"}


@pytest.fixture(autouse=True)
def paris(settings) -> None:
    settings.TIME_ZONE = "Europe/Paris"


@pytest.fixture
def app(db: None) -> OAuthApp:
    return OAuthApp.objects.create(provider="google", name="G", client_id="c", client_secret="s")


@pytest.fixture
def acme(app) -> Integration:
    return integration_of(app, "Acme Corp", "alice@acme.example")


@pytest.fixture
def globex(app) -> Integration:
    return integration_of(app, "Globex", "bob@globex.example")


def meeting(integration: Integration, starts: datetime, outcome: str, cause: str = "") -> Meeting:
    return Meeting.objects.create(
        integration=integration,
        remote_event_id=uuid.uuid4(),
        title="Weekly sync",
        starts_at=starts,
        ends_at=starts + timedelta(minutes=30),
        synced_at=starts - timedelta(days=1),
        outcome=outcome,
        outcome_cause=cause,
    )


def paris_time(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2027, month, day, hour, minute, tzinfo=PARIS)


@pytest.fixture
def known_data(acme, globex) -> None:
    """Acme: 7 meetings in the range (one more after it), Globex 2. Two fall on a day that is
    not UTC's: 00:30 on the 28th (the 27th in UTC) and 00:15 on the 29th (the 28th in UTC,
    after a day of 23 hours)."""
    meeting(acme, paris_time(27, 10), Outcome.RECORDED)
    meeting(acme, paris_time(28, 0, 30), Outcome.RECORDED)
    meeting(acme, paris_time(28, 23, 30), Outcome.NO_BOT, Cause.CALENDAR_BROKEN)
    meeting(acme, paris_time(29, 0, 15), Outcome.BOT_FAILED, Cause.BOT_ERROR)
    meeting(acme, paris_time(31, 10), Outcome.NO_BOT, Cause.POLICY)
    meeting(acme, paris_time(1, 10, month=4), Outcome.NO_NEWS)
    meeting(acme, paris_time(2, 10, month=4), Outcome.RECORDED)
    meeting(acme, paris_time(3, 10, month=4), Outcome.RECORDED)
    meeting(globex, paris_time(29, 10), Outcome.RECORDED)
    meeting(globex, paris_time(1, 10, month=4), Outcome.NO_BOT, Cause.CANCELLED)
    days = [date(2027, 3, 20) + timedelta(days=n) for n in range(20)]
    assert coverage.count_days(days, NOW) == 20


def figures(counts) -> tuple:
    return (
        counts.first.isoformat(),
        counts.last.isoformat(),
        counts.meetings,
        counts.wanted,
        counts.scheduled,
        counts.recorded,
        dict(counts.missed),
        counts.rate_words(),
    )


def test_a_customers_days_and_weeks_add_up_across_a_clock_change_and_a_month_end(
    admin_client, known_data, acme
):
    page = admin_client.get(REPORT, {**RANGE, "customer": acme.credential.customer_id})

    assert page.status_code == 200
    report = page.context["report"]
    assert [figures(day) for day in report.days] == [
        ("2027-03-27", "2027-03-27", 1, 1, 1, 1, {}, "100.0%"),
        ("2027-03-28", "2027-03-28", 2, 2, 1, 1, {"calendar_broken": 1}, "50.0%"),
        ("2027-03-29", "2027-03-29", 1, 1, 1, 0, {"bot_error": 1}, "0.0%"),
        ("2027-03-30", "2027-03-30", 0, 0, 0, 0, {}, "—"),
        ("2027-03-31", "2027-03-31", 1, 0, 0, 0, {"policy": 1}, "—"),
        ("2027-04-01", "2027-04-01", 1, 1, 1, 0, {"no_news": 1}, "0.0%"),
        ("2027-04-02", "2027-04-02", 1, 1, 1, 1, {}, "100.0%"),
    ]
    assert [figures(week) for week in report.weeks] == [
        ("2027-03-27", "2027-03-28", 3, 3, 2, 2, {"calendar_broken": 1}, "66.7%"),
        (
            "2027-03-29",
            "2027-04-02",
            4,
            3,
            3,
            1,
            {"bot_error": 1, "policy": 1, "no_news": 1},
            "33.3%",
        ),
    ]
    assert figures(report.total)[2:6] == (7, 6, 5, 3)
    assert report.total.missed_wanted == 3
    assert report.total.rate_words() == "50.0%"
    text = page.content.decode()
    assert "<strong>Acme Corp</strong>" in text
    assert "<strong>50.0%</strong> of the meetings that wanted a bot recorded" in text


def test_all_customers_add_up_and_the_chart_has_a_column_a_day(admin_client, known_data):
    page = admin_client.get(REPORT, RANGE)

    report = page.context["report"]
    assert figures(report.total)[2:6] == (9, 7, 6, 4)
    assert report.total.missed == {
        "calendar_broken": 1,
        "bot_error": 1,
        "policy": 1,
        "no_news": 1,
        "cancelled": 1,
    }
    assert len(page.context["chart"]["columns"]) == 7
    # 4 recorded, 3 missed though wanted (not the policy's nor the cancelled one).
    assert page.content.decode().count('<rect x="') == 7


def test_a_day_is_counted_again_whole_the_same_however_often_and_after_a_change(known_data, acme):
    def rows() -> list[dict]:
        return list(
            CoverageDay.objects.order_by("day", "customer_id").values(
                "customer_id", "day", "meetings", "wanted", "scheduled", "recorded", "missed"
            )
        )

    before = rows()
    day = date(2027, 4, 1)
    assert coverage.count_days([day, day], NOW) == 1
    assert coverage.count_days([day], NOW) == 1
    assert rows() == before

    Meeting.objects.filter(outcome=Outcome.NO_NEWS).update(outcome=Outcome.RECORDED)
    coverage.count_days([day], NOW)

    acme_day = CoverageDay.objects.get(customer=acme.credential.customer, day=day)
    assert (acme_day.recorded, acme_day.missed) == (1, {})
    total = CoverageDay.objects.get(customer=None, day=day)
    assert (total.meetings, total.recorded, total.missed) == (2, 1, {"cancelled": 1})


def test_pruned_meetings_leave_the_reports_past_days_as_they_were(
    admin_client, known_data, settings
):
    settings.MEETINGS_HISTORY_DAYS = 30
    later = NOW + timedelta(days=40)
    Meeting.objects.filter(starts_at__lt=later - timedelta(days=30)).delete()  # the pruning

    coverage.count_days([date(2027, 3, 28)], later)
    coverage.count_pass(later)

    report = admin_client.get(REPORT, RANGE).context["report"]
    assert figures(report.total)[2:6] == (9, 7, 6, 4)


def test_days_never_counted_are_counted_by_the_pass_a_few_at_a_time(acme, settings):
    settings.MEETINGS_HISTORY_DAYS = 10
    meeting(acme, paris_time(1, 10, month=4), Outcome.RECORDED)

    coverage.count_pass(NOW)
    coverage.count_pass(NOW)

    days = set(CoverageDay.objects.filter(customer=None).values_list("day", flat=True))
    first = coverage.first_countable_day(NOW)
    assert first == date(2027, 4, 1)
    # The open days (the last 4 and today) and twice the 3 oldest never counted.
    assert days == {first + timedelta(days=n) for n in range(10)}
    assert CoverageDay.objects.get(customer=acme.credential.customer).recorded == 1


def test_the_csv_has_every_day_week_and_the_range_and_no_formula(admin_client, app):
    hostile = integration_of(app, '=HYPERLINK("https://evil.example","x")', "eve@example.com")
    meeting(hostile, paris_time(29, 10), Outcome.RECORDED)
    coverage.count_days([date(2027, 3, 29)], NOW)

    response = admin_client.get(
        REPORT, {**RANGE, "customer": hostile.credential.customer_id, "csv": "1"}
    )

    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:4] == ["customer", "period", "first day", "last day"]
    assert [row[1] for row in rows[1:]] == ["day"] * 7 + ["week"] * 2 + ["range"]
    assert {row[0] for row in rows[1:]} == {'\'=HYPERLINK("https://evil.example","x")'}
    (monday,) = [row for row in rows if row[2] == "2027-03-29" and row[1] == "day"]
    assert monday[4:8] == ["1", "1", "1", "1"]
    assert monday[-1] == "1.0000"


def test_the_page_costs_the_same_queries_however_many_meetings(admin_client, app):
    def queries(n: int) -> int:
        integration = integration_of(app, f"Customer {n}", f"{n}@example.com")
        for hour in range(n):
            meeting(integration, paris_time(29, hour % 24), Outcome.RECORDED)
        coverage.count_days([date(2027, 3, 29)], NOW)
        query = {**RANGE, "customer": integration.credential.customer_id}
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(REPORT, query).status_code == 200
            assert admin_client.get(REPORT, RANGE).status_code == 200
        return len(captured)

    assert queries(2) == queries(30)


@pytest.mark.parametrize("role", ["Admin", "Support", "Auditor"])
def test_every_role_reads_and_exports_it_and_nobody_changes_anything(role_client, known_data, role):
    client = role_client(role)
    before = (
        list(Meeting.objects.order_by("pk").values()),
        list(CoverageDay.objects.order_by("pk").values()),
    )

    assert client.get(REPORT, RANGE).status_code == 200
    assert client.get(REPORT, {**RANGE, "csv": "1"}).status_code == 200
    for data in ({"outcome": "recorded"}, {"action": "delete_selected", "csv": "1"}):
        assert client.post(REPORT, data).status_code == 405

    after = (
        list(Meeting.objects.order_by("pk").values()),
        list(CoverageDay.objects.order_by("pk").values()),
    )
    assert after == before


def test_a_person_without_a_role_cannot_read_it(client, known_data):
    user = get_user_model().objects.create_user("nobody", password="pw", is_staff=True)
    client.force_login(user)

    assert client.get(REPORT).status_code == 403
    assert client.post(REPORT).status_code == 403


def test_a_reversed_or_too_long_range_is_refused_with_words(admin_client, known_data):
    reversed_range = admin_client.get(REPORT, {"start": "2027-04-02", "end": "2027-03-27"})
    too_long = admin_client.get(REPORT, {"start": "2020-01-01", "end": "2027-01-01"})

    assert "“Until” is before “From”." in reversed_range.content.decode()
    assert "At most 367 days at once." in too_long.content.decode()
    assert too_long.status_code == 200


@pytest.mark.clock
def test_the_default_range_is_the_last_full_month(admin_client, db):
    today = timezone.localdate()
    asked = admin_client.get(REPORT).context["report"].range

    assert asked == last_full_month()
    assert asked.first.day == 1
    assert asked.last + timedelta(days=1) == today.replace(day=1)


def test_it_is_linked_from_the_home_page_and_the_customers_page(role_client, acme):
    client = role_client("Auditor")
    customer = acme.credential.customer

    home = client.get(reverse("admin:index")).content.decode()
    page = client.get(reverse("admin:calendars_customer_change", args=[customer.pk]))

    assert f'href="{REPORT}"' in home and "Coverage report (meetings recorded)" in home
    assert f'href="{REPORT}?customer={customer.pk}"' in page.content.decode()
    report = client.get(f"{REPORT}?customer={customer.pk}")
    assert report.context["customer"] == customer


def test_the_outcomes_pass_counts_today_from_the_meetings(acme):
    from calendars import tasks

    meeting(acme, timezone.now() - timedelta(minutes=1), Outcome.RECORDED)

    assert tasks.settle_meeting_outcomes().endswith("days counted")

    today = CoverageDay.objects.get(customer=acme.credential.customer)
    assert (today.meetings, today.recorded) == (1, 1)


def test_a_range_past_62_days_is_charted_by_week(admin_client, known_data):
    page = admin_client.get(REPORT, {"start": "2027-02-01", "end": "2027-04-11"})

    chart = page.context["chart"]
    assert chart["by_week"] and len(chart["columns"]) == 10
    assert figures(page.context["report"].total)[2:6] == (10, 8, 7, 5)


@pytest.mark.clock  # the edge of the kept history is a day boundary
def test_the_command_counts_a_range_again_and_leaves_the_pruned_days(acme, settings):
    settings.MEETINGS_HISTORY_DAYS = 10
    today = timezone.localdate()
    meeting(acme, timezone.now() - timedelta(days=3), Outcome.RECORDED)
    out = io.StringIO()

    call_command("count_coverage", "--start", str(today - timedelta(days=20)), stdout=out)

    assert out.getvalue() == "10 days counted (11 not: older than the meetings kept)\n"
    assert CoverageDay.objects.get(customer=acme.credential.customer).recorded == 1
    with pytest.raises(CommandError):
        call_command("count_coverage", "--start", str(today), "--end", str(today - timedelta(1)))
