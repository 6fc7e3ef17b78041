"""The Microsoft tenant belongs to Microsoft apps only: shown for them, ignored for Google."""

from __future__ import annotations

from django.urls import reverse

from calendars.models import OAuthApp

ADD = reverse("admin:calendars_oauthapp_add")


def google_form(**overrides) -> dict:
    return {
        "provider": "google",
        "name": "Acme Google",
        "client_id": "1.apps.googleusercontent.com",
        "client_secret": "s3cret",
    } | overrides


def test_a_tenant_posted_for_a_google_app_is_ignored(role_client):
    added = role_client("Admin").post(ADD, google_form(tenant="contoso.onmicrosoft.com"))

    assert added.status_code == 302
    assert OAuthApp.objects.get().tenant == "common"


def test_a_google_app_needs_no_tenant(role_client):
    assert role_client("Admin").post(ADD, google_form()).status_code == 302


def test_the_add_form_toggles_the_tenant_with_a_static_script(role_client):
    page = role_client("Admin").get(ADD).content.decode()

    assert "calendars/oauth_app_form.js" in page
    assert 'name="tenant"' in page  # without JavaScript, still there to fill for Microsoft


def test_a_google_app_page_has_no_tenant_and_a_microsoft_one_has(
    role_client, google_app, microsoft_app
):
    client = role_client("Admin")
    google = client.get(reverse("admin:calendars_oauthapp_change", args=[google_app.pk]))
    microsoft = client.get(reverse("admin:calendars_oauthapp_change", args=[microsoft_app.pk]))

    assert "field-tenant" not in google.content.decode()
    assert 'name="tenant"' in microsoft.content.decode()


def test_an_auditor_sees_the_tenant_of_microsoft_apps_only(role_client, google_app, microsoft_app):
    client = role_client("Auditor")
    google = client.get(reverse("admin:calendars_oauthapp_change", args=[google_app.pk]))
    microsoft = client.get(reverse("admin:calendars_oauthapp_change", args=[microsoft_app.pk]))

    assert "Microsoft tenant" not in google.content.decode()
    assert "Microsoft tenant" in microsoft.content.decode()


def test_the_list_shows_a_tenant_for_microsoft_apps_only(role_client, google_app, microsoft_app):
    page = role_client("Support").get(reverse("admin:calendars_oauthapp_changelist"))

    html = page.content.decode()
    assert '<td class="field-microsoft_tenant">common</td>' in html
    assert '<td class="field-microsoft_tenant">—</td>' in html


def test_an_app_keeps_its_provider(role_client, google_app):
    url = reverse("admin:calendars_oauthapp_change", args=[google_app.pk])
    data = google_form(provider="microsoft", client_secret="", tenant="organizations")

    assert role_client("Admin").post(url, data).status_code == 302

    google_app.refresh_from_db()
    assert (google_app.provider, google_app.tenant) == ("google", "common")
