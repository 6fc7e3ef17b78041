"""A customer asks why Bob's copy of the roadmap review has no bot, in Debian's chromium: the
Meetings list says "Covered", its page names the copy carrying the bot, and its link leads
there."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page

from calendars.meetings import outcomes
from calendars.models import (
    BotPolicy,
    Credential,
    Integration,
    Meeting,
    OAuthApp,
    RawCalendar,
    SharedMeeting,
)
from tests.support.browser import signed_in_as_support
from tests.support.seeding import integration_of

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def support_page(live_server, monkeypatch) -> Iterator[Page]:
    yield from signed_in_as_support(live_server, monkeypatch)


def colleague_of(alice: Integration, email: str) -> Integration:
    credential = Credential.objects.create(
        customer=alice.credential.customer,
        oauth_app=alice.credential.oauth_app,
        account_email=email,
        refresh_token="1//refresh",
    )
    raw = RawCalendar.objects.create(
        credential=credential, provider_id=email, name=email, listed_at=timezone.now()
    )
    return Integration.objects.create(
        credential=credential, raw_calendar=raw, remote_id=uuid.uuid4(), provider="google"
    )


def copy_in(integration: Integration, **fields) -> Meeting:
    starts = timezone.now().replace(microsecond=0) + timedelta(hours=3)
    return Meeting.objects.create(
        integration=integration,
        remote_event_id=uuid.uuid4(),
        title="Roadmap review",
        starts_at=starts,
        ends_at=starts + timedelta(minutes=45),
        synced_at=timezone.now(),
        meeting_url="https://zoom.us/j/85712345678",
        same_meeting_key="zoom:85712345678",
        **fields,
    )


def test_support_finds_the_copy_that_carries_a_shared_meetings_bot(live_server, support_page):
    app = OAuthApp.objects.create(provider="google", name="G", client_id="c", client_secret="s")
    alice = integration_of(app, "Acme Corp", "alice@acme.example")
    bob = colleague_of(alice, "bob@acme.example")
    BotPolicy.objects.create(customer=alice.credential.customer, mode=BotPolicy.Mode.RECORD_ALL)
    carrier = copy_in(alice, has_bot=True)
    covered = copy_in(bob)
    shared = SharedMeeting.objects.create(
        customer=alice.credential.customer,
        key=carrier.same_meeting_key,
        starts_at=carrier.starts_at,
        starts_minute=carrier.starts_at.replace(second=0),
        carrier=carrier,
    )
    Meeting.objects.update(shared_meeting=shared)
    outcomes.refresh([carrier.pk, covered.pk])
    page = support_page

    page.goto(f"{live_server.url}/admin/calendars/meeting/")
    row = page.locator("tr", has_text="Covered by the bot on alice@acme.example's calendar.")
    row.get_by_role("link", name="Roadmap review").click()
    page.get_by_text("Covered by the bot on alice@acme.example's calendar:").wait_for()
    page.get_by_role("link", name="its copy there").click()

    page.get_by_text("This copy carries the meeting's bot").wait_for()
    assert page.url.endswith(f"/admin/calendars/meeting/{carrier.pk}/change/")
