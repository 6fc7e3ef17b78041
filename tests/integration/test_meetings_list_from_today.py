"""The Meetings list opens on the meetings from today on (in TIME_ZONE), "All" a click away; a
search and the missed meetings' filter look through every meeting."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from calendars.models import Integration, Meeting, OAuthApp
from tests.support.seeding import integration_of

pytestmark = pytest.mark.clock

MEETINGS = reverse("admin:calendars_meeting_changelist")


@pytest.fixture
def acme(db: None) -> Integration:
    app = OAuthApp.objects.create(provider="google", name="G", client_id="c", client_secret="s")
    return integration_of(app, "Acme Corp", "alice@acme.example")


def meeting(integration: Integration, starts: datetime, title: str) -> Meeting:
    return Meeting.objects.create(
        integration=integration,
        remote_event_id=uuid.uuid4(),
        title=title,
        starts_at=starts,
        ends_at=starts + timedelta(minutes=30),
        synced_at=timezone.now(),
    )


@pytest.fixture
def around_midnight(acme) -> None:
    """A meeting at today's first instant, one a second before it, one last week."""
    midnight = timezone.make_aware(datetime.combine(timezone.localdate(), time.min))
    meeting(acme, midnight, "Today at midnight")
    meeting(acme, midnight - timedelta(seconds=1), "Last second of yesterday")
    meeting(acme, midnight - timedelta(days=7), "Last week")


def titles(response) -> set[str]:
    assert response.status_code == 200
    return {m.title for m in response.context["cl"].result_list}


def test_the_list_opens_on_today_and_later(admin_client, around_midnight):
    page = admin_client.get(MEETINGS)

    assert titles(page) == {"Today at midnight"}
    html = page.content.decode()
    assert 'href="?starts=all"' in html
    assert '<li class="selected">\n    <a href="?starts=from_today"' in html


def test_all_shows_every_meeting(admin_client, around_midnight):
    assert titles(admin_client.get(MEETINGS, {"starts": "all"})) == {
        "Today at midnight",
        "Last second of yesterday",
        "Last week",
    }


def test_a_search_looks_through_the_past_too(admin_client, around_midnight):
    assert titles(admin_client.get(MEETINGS, {"q": "last"})) == {
        "Last second of yesterday",
        "Last week",
    }
    assert titles(admin_client.get(MEETINGS, {"q": "last", "starts": "from_today"})) == set()


def test_an_action_posted_for_a_past_meeting_still_finds_it(admin_client, around_midnight):
    past = Meeting.objects.get(title="Last week")

    page = admin_client.post(
        MEETINGS, {"action": "remove_bot", "_selected_action": [past.pk], "index": 0}
    )

    assert page.status_code == 200
    assert [m.pk for m in page.context["meetings"]] == [past.pk]
