"""OAuth app and credential forms: secrets are write-only and bad input saves nothing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from calendars.models import Credential, OAuthApp

ADD_APP = reverse("admin:calendars_oauthapp_add")


def app_form(**overrides) -> dict:
    return {
        "provider": "microsoft",
        "name": "Contoso Entra",
        "client_id": "6731de76-14a6-49ae-97bc-6eba6914391e",
        "client_secret": "s3cr3t-value-from-entra",
        "tenant": "common",
    } | overrides


def test_an_added_client_secret_is_stored_encrypted(admin_client):
    response = admin_client.post(ADD_APP, app_form())

    assert response.status_code == 302
    app = OAuthApp.objects.get()
    assert app.client_secret.reveal() == "s3cr3t-value-from-entra"


def test_the_change_page_never_renders_the_secret(admin_client, google_app):
    page = admin_client.get(reverse("admin:calendars_oauthapp_change", args=[google_app.pk]))

    html = page.content.decode()
    assert "google-client-secret-value" not in html
    assert google_app.client_secret.token not in html
    assert 'name="client_secret"' in html


def test_a_blank_secret_on_change_keeps_the_stored_one(admin_client, google_app):
    url = reverse("admin:calendars_oauthapp_change", args=[google_app.pk])
    data = app_form(
        provider="google", name="Renamed", client_secret="", client_id=google_app.client_id
    )

    response = admin_client.post(url, data)

    assert response.status_code == 302
    google_app.refresh_from_db()
    assert google_app.name == "Renamed"
    assert google_app.client_secret.reveal() == "google-client-secret-value"


def test_a_new_secret_on_change_replaces_it(admin_client, google_app):
    url = reverse("admin:calendars_oauthapp_change", args=[google_app.pk])

    admin_client.post(url, app_form(provider="google", client_secret="rotated-secret"))

    google_app.refresh_from_db()
    assert google_app.client_secret.reveal() == "rotated-secret"


@pytest.mark.parametrize(
    ("overrides", "field", "error"),
    [
        ({"client_secret": ""}, "client_secret", "required"),
        ({"client_secret": "   "}, "client_secret", "white space"),
        ({"client_secret": "x" * 10_000}, "client_secret", "At most"),
        ({"client_secret": "abc\x00def"}, "client_secret", "Null characters"),
        ({"client_secret": "abc\ndef"}, "client_secret", "Control characters"),
        ({"tenant": "contoso.onmicrosoft.com"}, "tenant", "tenant GUID"),
    ],
)
def test_bad_input_is_a_field_error_and_saves_nothing(admin_client, overrides, field, error):
    response = admin_client.post(ADD_APP, app_form(**overrides))

    assert response.status_code == 200
    assert error in " ".join(response.context["adminform"].form.errors[field])
    assert not OAuthApp.objects.exists()


def test_a_tenant_guid_is_accepted_and_normalised(admin_client):
    admin_client.post(ADD_APP, app_form(tenant="0B6A2D0E-3C1F-4B8A-9E2D-5F6A7B8C9D0E"))

    assert OAuthApp.objects.get().tenant == "0b6a2d0e-3c1f-4b8a-9e2d-5f6a7b8c9d0e"


def test_html_in_a_name_is_escaped(admin_client):
    admin_client.post(ADD_APP, app_form(name="<script>alert(1)</script>"))

    page = admin_client.get(reverse("admin:calendars_oauthapp_changelist"))

    assert b"<script>alert(1)</script>" not in page.content
    assert b"&lt;script&gt;" in page.content


def test_a_credential_refresh_token_is_write_only(admin_client, customer, google_app):
    add = reverse("admin:calendars_credential_add")
    data = {
        "customer": customer.pk,
        "oauth_app": google_app.pk,
        "account_email": "erin@example.com",
        "refresh_token": "1//erin-refresh-token",
    }

    assert admin_client.post(add, data).status_code == 302
    credential = Credential.objects.get()
    page = admin_client.get(reverse("admin:calendars_credential_change", args=[credential.pk]))

    assert credential.refresh_token.reveal() == "1//erin-refresh-token"
    assert b"erin-refresh-token" not in page.content


def test_a_credential_needs_a_refresh_token(admin_client, customer, google_app):
    data = {
        "customer": customer.pk,
        "oauth_app": google_app.pk,
        "account_email": "erin@example.com",
    }

    response = admin_client.post(reverse("admin:calendars_credential_add"), data)

    assert response.status_code == 200
    assert not Credential.objects.exists()


def test_replacing_a_refresh_token_with_nothing_is_refused(admin_client, credential):
    data = {
        "action": "replace_refresh_token",
        "_selected_action": [credential.pk],
        "apply": "1",
        "refresh_token": "",
    }

    response = admin_client.post(reverse("admin:calendars_credential_changelist"), data)

    assert response.status_code == 200
    assert b"Enter the new refresh token." in response.content
    credential.refresh_from_db()
    assert credential.refresh_token.reveal() == "1//refresh:alice@example.com"
