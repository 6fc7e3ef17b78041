"""The Meetings list, searched or not, "Meetings at risk" and the home page's lane cost the same
queries for 1 meeting as for 20, and past what each rule reads the counts say "at least".

Each meeting here has its own customer, account and integration (some not active, some under a
"record every meeting" policy), so a lookup made per row would show in the count.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from calendars.meetings import risk
from calendars.models import (
    BotPolicy,
    Credential,
    Customer,
    Integration,
    Meeting,
    OAuthApp,
    RawCalendar,
)

CHANGELIST = reverse("admin:calendars_meeting_changelist")
AT_RISK = reverse("admin:calendars_meeting_at_risk")
HOME = reverse("admin:index")


@pytest.fixture
def app(db: None) -> OAuthApp:
    return OAuthApp.objects.create(provider="google", name="G", client_id="c", client_secret="s")


def meetings_at_risk(app: OAuthApp, count: int, start: int = 0) -> None:
    """`count` meetings in the next hours, each of its own customer, all at risk."""
    now = timezone.now()
    for n in range(start, start + count):
        customer = Customer.objects.create(name=f"Customer {n}")
        if n % 2:
            BotPolicy.objects.create(customer=customer, mode=BotPolicy.Mode.RECORD_ALL)
        credential = Credential.objects.create(
            customer=customer,
            oauth_app=app,
            account_email=f"user{n}@example.com",
            refresh_token="rt",
        )
        raw = RawCalendar.objects.create(
            credential=credential, provider_id=f"cal{n}", name=f"Cal {n}", listed_at=now
        )
        integration = Integration.objects.create(
            credential=credential,
            raw_calendar=raw,
            remote_id=uuid.uuid4(),
            api_version="v2",
            provider="google",
            status="error" if n % 3 == 0 else "active",
            synced_at=now - timedelta(hours=7 + n % 5),  # all at risk: not synced lately
        )
        Meeting.objects.create(
            integration=integration,
            remote_event_id=uuid.uuid4(),
            title=f"Review {n}",
            starts_at=now + timedelta(hours=1 + n % 20),
            ends_at=now + timedelta(hours=2 + n % 20),
            meeting_url="" if n % 4 == 1 else "https://meet.google.com/abc-defg-hij",
            bot_failure="BOT_LIMIT: too many bots" if n % 5 == 2 else "",
            synced_at=now,
        )


def queries(client, url: str, shown: int) -> int:
    with CaptureQueriesContext(connection) as captured:
        page = client.get(url)
    assert page.status_code == 200
    assert page.content.decode().count("Review ") >= shown  # the rows are really there
    return len(captured)


@pytest.mark.parametrize(
    "url",
    [
        CHANGELIST,
        f"{CHANGELIST}?q=review",  # every title
        f"{CHANGELIST}?q=example.com",  # every account
        f"{CHANGELIST}?q=customer",  # every customer
        AT_RISK,
    ],
)
def test_the_page_costs_the_same_queries_for_twenty_meetings_as_for_one(admin_client, app, url):
    meetings_at_risk(app, 1)
    one = queries(admin_client, url, 1)
    meetings_at_risk(app, 19, start=1)

    twenty = queries(admin_client, url, 20)

    assert twenty == one


def test_the_home_page_lane_costs_the_same_queries_for_twenty_meetings_as_for_one(
    admin_client, app
):
    meetings_at_risk(app, 1)
    admin_client.get(HOME)  # caches (content types, session) filled before counting
    with CaptureQueriesContext(connection) as one:
        admin_client.get(HOME)
    meetings_at_risk(app, 19, start=1)

    with CaptureQueriesContext(connection) as twenty:
        page = admin_client.get(HOME).content.decode()

    assert "20 meetings may go without a bot" in page
    assert len(twenty) == len(one)


def test_past_what_is_counted_the_counts_say_at_least_and_the_soonest_come_first(
    admin_client, app, monkeypatch
):
    meetings_at_risk(app, 8)  # every one at risk: its calendar was not synced lately
    monkeypatch.setattr(risk, "COUNTED", 3)

    page = admin_client.get(AT_RISK).content.decode()
    home = admin_client.get(HOME).content.decode()

    soonest = Meeting.objects.order_by("starts_at", "pk")
    listed = re.findall(r"Review \d+", page)
    # Each rule read its 3 soonest: the merge lists the soonest of all first, whatever rule.
    assert listed[:3] == [m.title for m in soonest[:3]]
    assert "<strong>At least 3 meetings" in page and "<strong>At least 3 meetings" in home
    # Past the 3rd of a rule read to its cap, another might hold more unread: the count stops
    # there, each meeting under its first reason, and the breakdown adds up to the total.
    breakdown = page.split("may go without a bot</strong>: ")[1].split(" (each meeting")[0]
    assert sum(int(part.split()[0]) for part in breakdown.split("; ")) == 3
