"""The Meetings search finds by part of a title, an account e-mail or a customer's name, or by
an exact event or calendar id, each through an index of its own table; a common term is
counted up to a bound and said to be more."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from calendars.admin import big_lists, records
from calendars.models import Integration, Meeting
from tests.support.meetings import active_integration, add_event, deliver, webhook
from tests.support.seeding import integration_of

CHANGELIST = reverse("admin:calendars_meeting_changelist")
on_sqlite = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's trigram table")
on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL plans")


def meeting(integration: Integration, title: str, in_hours: int = 1) -> Meeting:
    starts = timezone.now() + timedelta(hours=in_hours)
    return Meeting.objects.create(
        integration=integration,
        remote_event_id=uuid.uuid4(),
        title=title,
        starts_at=starts,
        ends_at=starts + timedelta(minutes=30),
        synced_at=timezone.now(),
    )


def search(client, term: str) -> tuple[set[int], list[str], object]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(CHANGELIST, {"q": term})
    assert response.status_code == 200
    changelist = response.context["cl"]
    found = {row.pk for row in changelist.result_list}
    return found, [q["sql"] for q in queries.captured_queries], changelist


@pytest.fixture
def acme(google_app) -> Integration:
    return integration_of(google_app, "Acme Corp", "alice@acme.example")


@pytest.fixture
def globex(google_app) -> Integration:
    return integration_of(google_app, "Globex", "bob@globex.example")


def test_part_of_a_title_an_e_mail_or_a_customer_name_finds_its_meetings(
    admin_client, acme, globex
):
    planning = meeting(acme, "Quarterly planning")
    standup = meeting(acme, "Team standup")
    review = meeting(globex, "Board review")

    assert search(admin_client, "PLANNING")[0] == {planning.pk}
    assert search(admin_client, "view")[0] == {review.pk}
    assert search(admin_client, "ALICE@acme")[0] == {planning.pk, standup.pk}
    assert search(admin_client, "lobe")[0] == {review.pk}
    # Two characters have no trigram: read without the index, and found all the same.
    assert search(admin_client, "up")[0] == {standup.pk}
    assert search(admin_client, "Weekly sync")[0] == set()


def test_each_field_is_matched_on_its_own_table_then_the_meetings_by_id(admin_client, acme, globex):
    meeting(acme, "Quarterly planning")
    meeting(globex, "Board review")

    _, queries, _ = search(admin_client, "lobe")

    (page,) = [sql for sql in queries if "ORDER BY" in sql and 'FROM "calendars_meeting"' in sql]
    # No join to the credentials or customers: the integrations the term found, by id.
    assert "calendars_credential" not in page and "calendars_customer" not in page
    assert f'"calendars_meeting"."integration_id" IN ({globex.pk})' in page


def test_an_exact_event_or_calendar_id_finds_its_meetings_through_the_index(
    admin_client, acme, globex
):
    wanted = meeting(acme, "Quarterly planning")
    sibling = meeting(acme, "Team standup")
    meeting(globex, "Board review")

    by_event, queries, _ = search(admin_client, str(wanted.remote_event_id).upper())
    by_calendar, _, _ = search(admin_client, str(acme.remote_id))

    assert by_event == {wanted.pk}
    assert by_calendar == {wanted.pk, sibling.pk}
    by_id = [sql for sql in queries if "remote_event_id" in sql and "WHERE" in sql]
    assert by_id
    assert not [sql for sql in by_id if "UPPER" in sql or "LIKE" in sql]
    assert search(admin_client, str(wanted.remote_event_id)[:8])[0] == set()


def test_a_common_term_is_counted_up_to_a_bound_and_said_to_be_more(
    admin_client, acme, monkeypatch
):
    monkeypatch.setattr(big_lists, "SEARCH_COUNTED_UP_TO", 2)
    for n in range(3):
        meeting(acme, f"Weekly sync {n}", in_hours=n + 1)
    meeting(acme, "Team standup")

    found, _, listed = search(admin_client, "weekly")
    page = admin_client.get(CHANGELIST, {"q": "weekly"}).content.decode()

    assert len(found) == 3  # all of them listed, only the count stopped
    assert str(listed.result_count) == "more than 2"
    assert "more than 2 meetings" in page
    _, _, exact = search(admin_client, "standup")
    assert exact.result_count == 1 and str(exact.result_count) == "1"


def test_the_list_without_a_search_is_counted_exactly(admin_client, acme, monkeypatch):
    monkeypatch.setattr(big_lists, "SEARCH_COUNTED_UP_TO", 2)
    for n in range(3):
        meeting(acme, f"Weekly sync {n}", in_hours=n + 1)

    page = admin_client.get(CHANGELIST)

    assert str(page.context["cl"].result_count) == "3"


@on_sqlite
def test_on_sqlite_a_title_is_found_through_the_trigram_table_kept_by_triggers(admin_client, acme):
    held = meeting(acme, 'Review of "Q3" plans')
    assert search(admin_client, '"Q3" PLAN')[0] == {held.pk}

    held.title = "Quarterly planning"
    held.save(update_fields=["title"])
    found, queries, _ = search(admin_client, "terly plan")
    gone, _, _ = search(admin_client, '"Q3"')

    assert found == {held.pk} and gone == set()
    assert [sql for sql in queries if "meeting_title_trigram MATCH" in sql]
    held.delete()
    assert search(admin_client, "terly plan")[0] == set()


@on_sqlite
def test_on_sqlite_a_title_too_common_for_the_trigram_table_is_read_in_the_lists_order(
    admin_client, acme, monkeypatch
):
    monkeypatch.setattr(records, "TITLES_THROUGH_INDEX", 1)
    syncs = {meeting(acme, f"Weekly sync {n}", in_hours=n + 1).pk for n in range(2)}
    meeting(acme, "Team standup")

    found, queries, _ = search(admin_client, "weekly")

    assert found == syncs
    (page,) = [sql for sql in queries if "ORDER BY" in sql and 'FROM "calendars_meeting"' in sql]
    assert '"calendars_meeting"."title" LIKE' in page and "meeting_title_trigram" not in page


def test_a_meeting_renamed_remotely_is_found_under_its_new_title_only(
    admin_client, sandbox, make_integration
):
    integration = active_integration(make_integration, sandbox, "v2")
    event_id = add_event(sandbox, integration, title="Budget kickoff")
    created = webhook(sandbox, integration, "calendar.event_created", [event_id])
    deliver(admin_client, integration, created)
    time.sleep(1)  # Svix times are whole seconds: the rename is news a second later
    sandbox.control("POST", f"events/{event_id}", {"title": "Roadmap offsite"})
    renamed = webhook(sandbox, integration, "calendar.event_updated", [event_id])
    deliver(admin_client, integration, renamed)

    held = Meeting.objects.get(remote_event_id=event_id)
    assert search(admin_client, "map offs")[0] == {held.pk}
    assert search(admin_client, "budget kick")[0] == set()


def plan(queryset) -> str:
    """The plan PostgreSQL would follow reading only through an index condition: an index it
    does not take then does not serve the query's expression at all (the tables here are too
    small for a plan taken freely to say anything). Plain index scans are off too, or an
    ordered walk of another index, filtering every row, can look cheaper on the statistics an
    earlier test left (a GIN index has bitmap scans only)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        return queryset.explain()


@on_postgresql
def test_on_postgresql_a_title_fragment_and_an_event_id_are_read_through_their_indexes(acme):
    held = meeting(acme, "Quarterly planning")

    by_title = plan(Meeting.objects.filter(records.titles_containing("planning")))
    by_event = plan(Meeting.objects.filter(records.meeting_search(str(held.remote_event_id))))

    assert "meeting_title_trgm" in by_title
    assert "meeting_remote_event" in by_event
