"""A secret entered on an edit form is replaced exactly as the actions replace it: pushed."""

from __future__ import annotations

from django.test import TestCase
from django.urls import reverse

from calendars.models import ActionRecord, BulkJob


def test_the_edit_forms_say_a_new_secret_is_pushed_like_the_action(
    role_client, credential, google_app
):
    client = role_client("Admin")
    credential_page = client.get(reverse("admin:calendars_credential_change", args=[credential.pk]))
    app_page = client.get(reverse("admin:calendars_oauthapp_change", args=[google_app.pk]))

    assert "exactly as the action “Replace refresh token” does" in credential_page.content.decode()
    assert "exactly as the action “Rotate client secret” does" in app_page.content.decode()


def test_a_refresh_token_entered_on_the_edit_form_is_pushed_to_live_integrations(
    role_client, sandbox, make_integration, credential
):
    integration = make_integration()
    url = reverse("admin:calendars_credential_change", args=[credential.pk])
    data = {
        "customer": credential.customer.pk,
        "oauth_app": credential.oauth_app.pk,
        "account_email": credential.account_email,
        "refresh_token": "1//edited:alice@example.com",
    }

    with TestCase.captureOnCommitCallbacks(execute=True):
        saved = role_client("Admin").post(url, data, follow=True)

    job = BulkJob.objects.get(kind=BulkJob.Kind.PUSH_CREDENTIALS)
    text = saved.content.decode()
    assert "pushing it to 1 integration:" in text
    job_url = reverse("admin:calendars_bulkjob_change", args=[job.pk])
    assert f'<a href="{job_url}">bulk job {job.pk}</a>' in text
    credential.refresh_from_db()
    assert credential.refresh_token.reveal() == "1//edited:alice@example.com"
    assert sandbox.connection(integration.remote_id).refresh_token == "1//edited:alice@example.com"
    assert ActionRecord.objects.filter(action="replace refresh token").count() == 1


def test_a_client_secret_entered_on_the_edit_form_is_pushed_to_live_integrations(
    role_client, sandbox, make_integration, google_app
):
    integration = make_integration()
    url = reverse("admin:calendars_oauthapp_change", args=[google_app.pk])
    data = {"name": google_app.name, "client_id": google_app.client_id, "client_secret": "new-one"}

    with TestCase.captureOnCommitCallbacks(execute=True):
        saved = role_client("Admin").post(url, data, follow=True)

    assert "pushing it to 1 integration:" in saved.content.decode()
    assert BulkJob.objects.filter(kind=BulkJob.Kind.PUSH_CREDENTIALS).count() == 1
    assert sandbox.connection(integration.remote_id).client_secret == "new-one"
    assert ActionRecord.objects.filter(action="rotate client secret").count() == 1


def test_an_edit_without_a_new_secret_pushes_nothing(role_client, sandbox, google_app):
    url = reverse("admin:calendars_oauthapp_change", args=[google_app.pk])
    data = {"name": "Renamed", "client_id": google_app.client_id, "client_secret": ""}

    assert role_client("Admin").post(url, data).status_code == 302

    assert not BulkJob.objects.exists()
    assert not ActionRecord.objects.filter(action="rotate client secret").exists()
