"""The admin home's chart of new problems by cause over the last 7 days (server-rendered SVG),
read from counts kept as status changes are recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from calendars.models import ProblemDay, StatusChange
from tests.support.broken_rows import broken_integrations

INDEX = reverse("admin:index")
CHANGELIST = reverse("admin:calendars_integration_changelist")
REVOKED = "invalid_grant: Token has been expired or revoked."


def chart_of(page: str) -> str:
    start = page.index('<figure class="problem-history">')
    return page[start : page.index("</figure>", start)]


def change(integration, days_ago: int, to_status: str, message: str, cause: str = "refresh"):
    """A status change written around the portal (days ago), then counted again."""
    StatusChange.objects.create(
        integration=integration,
        from_status="active",
        to_status=to_status,
        message=message,
        cause=cause,
        changed_at=timezone.now() - timedelta(days=days_ago),
    )
    ProblemDay.recount()


@pytest.mark.clock
def test_it_counts_new_problems_by_cause_and_day_and_links_each_cause(
    role_client, customer, google_app
):
    one, two = broken_integrations(customer, google_app, 2, message=REVOKED)
    change(one, 0, "error", REVOKED)
    change(two, 0, "error", REVOKED)
    change(two, 2, "error", "Calendar API quota exceeded")
    change(one, 3, "disconnected", "Deleted on Meeting BaaS.", cause="webhook")
    change(one, 4, "disconnected", "Disconnected by sam", cause="admin_action")  # not a problem
    change(one, 5, "active", "")  # not a problem
    change(one, 9, "error", REVOKED)  # older than the week

    chart = chart_of(role_client("Support").get(INDEX).content.decode())
    today = timezone.localdate()

    assert '<svg role="img" aria-label="New problems by cause, last 7 days"' in chart
    assert chart.count("<rect ") == 3
    day = f"{today:%a} {today.day} {today:%b}"
    assert f"{day}: Refresh token refused or revoked, 2</title>" in chart
    assert "Rate limited or Meeting BaaS unavailable, 1</title>" in chart
    assert "Not found remotely, 1</title>" in chart
    assert f'<a href="{CHANGELIST}?problem=token_refused">' in chart
    assert chart.count('class="label"') == 7  # one column per day, empty days included


def test_it_says_so_when_nothing_broke_this_week(role_client, db):
    chart = chart_of(role_client("Support").get(INDEX).content.decode())

    assert "No new problems in the last 7 days." in chart


@pytest.mark.clock
def test_it_reads_its_counts_not_the_status_changes(admin_client, customer, google_app):
    (integration,) = broken_integrations(customer, google_app, 1, message=REVOKED)
    for days_ago in range(7):
        change(integration, days_ago, "error", f"{REVOKED} ({days_ago})")
        change(integration, days_ago, "disconnected", "Deleted.", cause="webhook")

    with CaptureQueriesContext(connection) as queries:
        chart = chart_of(admin_client.get(INDEX).content.decode())

    assert chart.count("Refresh token refused or revoked, 1</title>") == 7
    assert len([q for q in queries if "calendars_problemday" in q["sql"]]) == 1
    assert len([q for q in queries if "calendars_statuschange" in q["sql"]]) == 1  # the activity


@pytest.mark.clock
def test_a_webhook_error_is_charted_by_what_the_refresh_after_it_learned(
    role_client, customer, google_app
):
    (integration,) = broken_integrations(customer, google_app, 1, message=REVOKED)
    change(integration, 0, "error", "Meeting BaaS reports status 'error'.", cause="webhook")

    chart = chart_of(role_client("Support").get(INDEX).content.decode())

    assert "Refresh token refused or revoked" in chart
    assert "Unrecognised error" not in chart
