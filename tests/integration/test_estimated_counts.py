"""A big table's unfiltered list is counted from PostgreSQL's estimate, and says "about"; a
filtered list is counted exactly up to a bound, and past it from PostgreSQL's plan ("about")
or, on SQLite, as "more than" the bound."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.urls import reverse

from calendars.admin import big_lists
from tests.support.seeding import integration_of

STATUS_CHANGES = reverse("admin:calendars_statuschange_changelist")
MEETINGS = reverse("admin:calendars_meeting_changelist")
ROWS = 120_000  # past EXACT_COUNT_BELOW
on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's estimate (SQLite counts exactly)"
)
ERRORS = ROWS // 10


@pytest.fixture
def big_tables_truncated():
    """After the test, the big tables emptied by TRUNCATE, which takes their size, so
    PostgreSQL's estimate of their rows, with them (the flush after a test only deletes rows:
    tests/support/flush.py), before the next test counts them."""
    yield
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE calendars_statuschange, calendars_meeting CASCADE")


def many_status_changes(google_app) -> None:
    integration = integration_of(google_app, "Acme Corp", "alice@acme.example")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO calendars_statuschange "
            "(integration_id, from_status, to_status, message, changed_at, cause) "
            "SELECT %s, 'active', CASE WHEN n %% 10 = 0 THEN 'error' ELSE 'active' END, '', "
            "now(), 'refresh' FROM generate_series(1, %s) n",
            [integration.pk, ROWS],
        )
        cursor.execute("ANALYZE calendars_statuschange")


def foot(page: str) -> str:
    """The list's foot: its pages and its count."""
    start = page.index('class="paginator"')
    return page[start : page.index("</nav>", start)]


# Committed, so that ANALYZE sees the rows; the table is emptied (TRUNCATE) after the test,
# which takes its statistics with it.
@on_postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("big_tables_truncated")
def test_an_unfiltered_big_list_says_about_and_a_filtered_one_is_exact_up_to_a_bound(
    admin_client, google_app, monkeypatch
):
    many_status_changes(google_app)

    unfiltered = admin_client.get(STATUS_CHANGES).content.decode()
    planned = admin_client.get(STATUS_CHANGES, {"to_status": "error"}).content.decode()
    monkeypatch.setattr(big_lists, "COUNTED_UP_TO", ERRORS)
    filtered = admin_client.get(STATUS_CHANGES, {"to_status": "error"}).content.decode()

    assert re.search(r"about 1[12]\d,\d{3} status changes", foot(unfiltered))
    # Past the bound (10,000), the plan's figure from the column's statistics: about a tenth.
    assert re.search(r"about 1[0-4],\d{3} status changes", foot(planned))
    assert "about" not in foot(filtered)
    assert f"{ERRORS} status changes" in foot(filtered)


@pytest.mark.skipif(
    connection.vendor != "sqlite",
    reason="PostgreSQL answers from its plan past the bound (the test above)",
)
def test_on_sqlite_a_filtered_list_past_the_bound_says_more_than(
    admin_client, google_app, monkeypatch
):
    integration = integration_of(google_app, "Acme Corp", "alice@acme.example")
    for _ in range(3):
        integration.status_changes.create(from_status="active", to_status="error", cause="refresh")
    monkeypatch.setattr(big_lists, "COUNTED_UP_TO", 2)

    filtered = admin_client.get(STATUS_CHANGES, {"to_status": "error"})

    assert "more than 2 status changes" in foot(filtered.content.decode())
    assert len(filtered.context["cl"].result_list) == 3


def many_meetings(google_app) -> None:
    integration = integration_of(google_app, "Acme Corp", "alice@acme.example")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO calendars_meeting (integration_id, remote_event_id, series_id, title,"
            " starts_at, ends_at, meeting_url, platform, is_cancelled, is_recurring,"
            " organizer_email, has_bot, bot_summary, bot_failure, synced_at) "
            "SELECT %s, md5(n::text)::uuid, '', 'Weekly sync', now() + n * interval '1 minute',"
            " now() + n * interval '1 minute', '', 'none', false, false, '', n %% 10 = 0, '',"
            " '', now() FROM generate_series(1, %s) n",
            [integration.pk, ROWS],
        )
        cursor.execute("ANALYZE calendars_meeting")


@on_postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("big_tables_truncated")
def test_the_unsearched_meetings_list_says_about_and_a_filtered_one_is_exact(
    admin_client, google_app, monkeypatch
):
    many_meetings(google_app)
    monkeypatch.setattr(big_lists, "COUNTED_UP_TO", ERRORS)

    unfiltered = admin_client.get(MEETINGS).content.decode()
    filtered = admin_client.get(MEETINGS, {"has_bot__exact": "1"}).content.decode()

    assert re.search(r"about 1[12]\d,\d{3} meetings", foot(unfiltered))
    assert "about" not in foot(filtered)
    assert f"{ERRORS} meetings" in foot(filtered)
