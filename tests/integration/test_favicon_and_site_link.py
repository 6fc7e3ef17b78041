"""Every page has the portal's icon (no 404 for /favicon.ico), and the admin offers no "View
site" link back to itself."""

from __future__ import annotations

from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse

ICON = "calendars/favicon.svg"


def test_favicon_ico_leads_to_the_icon_which_exists(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 302 and response["Location"].endswith(ICON)
    assert finders.find(ICON)


def test_admin_pages_name_the_icon_and_offer_no_view_site(admin_client):
    page = admin_client.get(reverse("admin:index")).content.decode()

    assert f'rel="icon" href="/static/{ICON}"' in page
    assert "View site" not in page


def test_the_consent_pages_name_the_icon_too(db):
    page = Client().get("/connect/not-a-real-token/").content.decode()

    assert f'rel="icon" href="/static/{ICON}"' in page
