"""The OAuth app's form shows each provider's own fields for that provider only, and the app's
page gives the redirect URI to register at Google or Microsoft."""

from __future__ import annotations

import re

from django.urls import reverse

ADD = reverse("admin:calendars_oauthapp_add")


def fieldset(html: str, provider: str) -> str:
    found = re.search(rf'<fieldset class="[^"]*provider-{provider}".*?</fieldset>', html, re.S)
    assert found, f"no fieldset for {provider}"
    return found.group(0)


def test_the_add_form_puts_each_providers_fields_under_its_name(role_client):
    html = role_client("Admin").get(ADD).content.decode()

    google, microsoft = fieldset(html, "google"), fieldset(html, "microsoft")
    assert "Google apps only" in google and 'name="publishing_status"' in google
    assert "Microsoft apps only" in microsoft
    for name in ("tenant", "needs_calendar_write", "client_secret_expires_on"):
        assert f'name="{name}"' in microsoft and f'name="{name}"' not in google
    assert 'name="publishing_status"' not in microsoft


def test_each_apps_page_shows_its_own_providers_fields_only(role_client, google_app, microsoft_app):
    client = role_client("Admin")
    google = client.get(reverse("admin:calendars_oauthapp_change", args=[google_app.pk]))
    microsoft = client.get(reverse("admin:calendars_oauthapp_change", args=[microsoft_app.pk]))

    assert "Client secret expires on" not in google.content.decode()
    assert "Google publishing status" in google.content.decode()
    assert "Google publishing status" not in microsoft.content.decode()
    assert "Client secret expires on" in microsoft.content.decode()


def test_the_apps_page_gives_the_redirect_uri_to_copy(role_client, google_app, settings):
    settings.PORTAL_PUBLIC_URL = "https://portal.example.com"
    uri = 'value="https://portal.example.com/connect/callback/"'
    page = reverse("admin:calendars_oauthapp_change", args=[google_app.pk])
    client = role_client("Admin")
    add = client.get(ADD).content.decode()  # to register before the app is added
    as_admin = client.get(page).content.decode()
    as_auditor = role_client("Auditor").get(page).content.decode()

    assert uri in add
    for html in (as_admin, as_auditor):
        assert uri in html
        assert 'data-source="redirect-uri"' in html and "calendars/copy_summary.js" in html
        assert "opens only on the portal" not in html


def test_a_loopback_or_missing_public_address_is_said_beside_the_redirect_uri(
    role_client, google_app, settings
):
    url = reverse("admin:calendars_oauthapp_change", args=[google_app.pk])
    client = role_client("Admin")
    settings.PORTAL_PUBLIC_URL = "http://127.0.0.1:8100"
    loopback = client.get(url).content.decode()
    settings.PORTAL_PUBLIC_URL = ""
    missing = client.get(url).content.decode()

    assert 'value="http://127.0.0.1:8100/connect/callback/"' in loopback
    assert "opens only on the portal&#x27;s machine" in loopback
    assert "Set PORTAL_PUBLIC_URL, the portal" in missing and "redirect-uri" not in missing
