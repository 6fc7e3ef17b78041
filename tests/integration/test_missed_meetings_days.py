"""Missed meetings' default days are yesterday and today in the current time zone: half an
hour after midnight in Paris, still the day before in UTC, yesterday is Paris' yesterday."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from calendars.models import Meeting, OAuthApp
from tests.integration.test_missed_meetings import ended, local
from tests.support.seeding import integration_of


@pytest.fixture(autouse=True)
def half_past_midnight_in_paris(settings) -> Iterator[None]:
    # Autouse: the login and the rows are made at that moment too.
    settings.TIME_ZONE = "Europe/Paris"
    with time_machine.travel(datetime(2027, 3, 27, 23, 30, tzinfo=UTC), tick=False):
        yield


def test_yesterday_is_the_day_before_in_the_current_time_zone(admin_client, db):
    app = OAuthApp.objects.create(provider="google", name="G", client_id="c", client_secret="s")
    acme = integration_of(app, "Acme Corp", "alice@acme.example")
    cause = Meeting.Cause.NO_URL
    ended(acme, Meeting.Outcome.NO_BOT, cause, title="Yesterday in Paris", day=date(2027, 3, 27))
    late = ended(acme, Meeting.Outcome.NO_BOT, cause, title="The day before", day=date(2027, 3, 26))
    # 23:00 on the 26th in Paris: yesterday in UTC, not in Paris.
    starts = local(date(2027, 3, 26), 23)
    Meeting.objects.filter(pk=late.pk).update(
        starts_at=starts, ends_at=starts + timedelta(minutes=20)
    )

    page = admin_client.get(reverse("admin:calendars_meeting_missed"))

    assert [row["meeting"].title for row in page.context["rows"]] == ["Yesterday in Paris"]
    assert "Missed yesterday: 1<" in admin_client.get(reverse("admin:index")).content.decode()
