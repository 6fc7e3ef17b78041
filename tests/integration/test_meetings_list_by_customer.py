"""The Meetings list: a customer chosen in its filter (by id from a link, or by part of the
name typed into the filter's box), and each meeting's title leading to its page."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from calendars.models import Meeting
from tests.support.seeding import integration_of

MEETINGS = reverse("admin:calendars_meeting_changelist")


@pytest.fixture
def meetings(google_app) -> dict[str, Meeting]:
    start = timezone.now() + timedelta(hours=2)
    found = {}
    for customer, title in (("Northwind Traders", "Northwind weekly"), ("Acme Corp", "Acme sync")):
        found[customer] = Meeting.objects.create(
            integration=integration_of(google_app, customer, f"{title[:4].lower()}@example.com"),
            remote_event_id=uuid.uuid4(),
            title=title,
            starts_at=start,
            ends_at=start + timedelta(minutes=30),
            synced_at=timezone.now(),
        )
    return found


def test_the_list_offers_a_customer_filter_box(admin_client, meetings):
    html = admin_client.get(MEETINGS, {"has_bot__exact": "0"}).content.decode()

    assert 'data-filter-title="customer"' in html
    assert '<input type="search" name="customer_name"' in html
    assert '<input type="hidden" name="has_bot__exact" value="0">' in html


def test_part_of_a_customers_name_lists_only_its_meetings(admin_client, meetings):
    html = admin_client.get(MEETINGS, {"customer_name": "northwind"}).content.decode()

    assert "Northwind weekly" in html and "Acme sync" not in html
    assert "Name contains “northwind”" in html


def test_a_customer_id_lists_only_its_meetings(admin_client, meetings):
    customer = meetings["Acme Corp"].integration.credential.customer

    html = admin_client.get(MEETINGS, {"customer": customer.pk}).content.decode()

    assert "Acme sync" in html and "Northwind weekly" not in html


def test_a_meetings_title_links_to_its_page(admin_client, meetings):
    meeting = meetings["Acme Corp"]

    html = admin_client.get(MEETINGS).content.decode()

    url = reverse("admin:calendars_meeting_change", args=[meeting.pk])
    assert f'<a href="{url}">Acme sync</a>' in html
