"""Times in the viewer's own zone once the browser has named it (the portal_time_zone cookie
set by every admin page), in TIME_ZONE otherwise; each time names its zone either way."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import dateformat, timezone

from calendars.lib.time_zones import COOKIE

NEW_YORK = ZoneInfo("America/New_York")


def written(moment, zone) -> str:
    return dateformat.format(moment.astimezone(zone), "Y-m-d H:i T")


def integration_page(client, integration) -> str:
    return client.get(
        reverse("admin:calendars_integration_change", args=[integration.pk])
    ).content.decode()


@pytest.mark.clock
def test_a_page_writes_times_in_the_zone_the_browser_named(admin_client, make_integration):
    integration = make_integration()
    admin_client.cookies[COOKIE] = "America/New_York"

    page = integration_page(admin_client, integration)

    assert written(integration.created_at, NEW_YORK) in page


@pytest.mark.parametrize("cookie", [None, "Mars/Olympus_Mons", "../../etc/passwd", "x" * 100])
@pytest.mark.clock
def test_without_a_known_zone_times_stay_in_time_zone(admin_client, make_integration, cookie):
    integration = make_integration()
    if cookie is not None:
        admin_client.cookies[COOKIE] = cookie

    page = integration_page(admin_client, integration)

    assert written(integration.created_at, timezone.get_default_timezone()) in page


def test_the_zone_is_the_requests_alone(admin_client, make_integration):
    integration = make_integration()
    admin_client.cookies[COOKIE] = "America/New_York"
    integration_page(admin_client, integration)

    assert timezone.get_current_timezone() == timezone.get_default_timezone()


def test_every_admin_page_tells_the_portal_the_viewers_zone(admin_client):
    page = admin_client.get(reverse("admin:calendars_integration_changelist")).content.decode()

    assert "calendars/time_zone.js" in page
