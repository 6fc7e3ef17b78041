"""The admin's "History" page of an integration, credential, OAuth app, customer or bot policy
shows every change recorded of it, from every source, in words and one time format."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from calendars.actions.refresh import refresh_integration
from calendars.consent import links
from calendars.models import BotPolicy
from tests.support.meetings import active_integration, add_event, deliver, webhook

# What Django's own page says of an object its forms never logged.
NO_HISTORY = "have a change history"
ISO_TIME = re.compile(r"\d{2}:\d{2}:\d{2}(\.\d+)?[+-]\d{2}:\d{2}")


def history_page(client, obj) -> str:
    url = reverse(f"admin:calendars_{obj._meta.model_name}_history", args=[obj.pk])
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_an_integration_has_its_statuses_actions_and_bots(
    role_client, sandbox, make_integration, customer
):
    BotPolicy.objects.create(customer=customer, bot_name="Acme notes")
    support = role_client("Support")
    integration = active_integration(make_integration, sandbox, "v2")
    sandbox.force(integration.remote_id, status="error", status_message="Quota exceeded")
    refresh_integration(integration.pk)
    event_id = add_event(sandbox, integration, title="Kick-off")
    deliver(
        support, integration, webhook(sandbox, integration, "calendar.event_created", [event_id])
    )
    meeting = integration.meetings.get()
    support.post(
        reverse("admin:calendars_meeting_changelist"),
        {"action": "schedule_bot", "_selected_action": [meeting.pk], "confirm": "1"},
    )

    page = history_page(role_client("Auditor"), integration)

    assert NO_HISTORY not in page
    assert "status active → error (Refresh): Quota exceeded" in page
    assert "bot: Schedule bot on Kick-off (done)" in page and "support-user" in page
    assert "webhook calendar.event_created" in page


@pytest.mark.clock
def test_a_credential_shows_its_token_replacement_never_the_token(
    admin_client, role_client, credential
):
    url = reverse("admin:calendars_credential_change", args=[credential.pk])
    data = {
        "customer": credential.customer.pk,
        "oauth_app": credential.oauth_app.pk,
        "account_email": credential.account_email,
        "refresh_token": "1//brand-new-token",
    }
    assert admin_client.post(url, data).status_code == 302
    credential.refresh_from_db()

    page = history_page(role_client("Auditor"), credential)

    assert "refresh token replaced" in page and "replace refresh token (done)" in page
    assert "brand-new-token" not in page
    # The admin form's own log is there too, beside the portal's records.
    assert "admin form: Changed Refresh token." in page
    consented = date_format(timezone.localtime(credential.consented_at), "DATETIME_FORMAT")
    assert f"consented at set to {consented}" in page


def test_an_oauth_app_shows_its_secret_rotation(admin_client, google_app):
    admin_client.post(
        reverse("admin:calendars_oauthapp_changelist"),
        {
            "action": "rotate_client_secret",
            "_selected_action": [google_app.pk],
            "apply": "1",
            "client_secret": "n3w-s3cret",
        },
    )

    page = history_page(admin_client, google_app)

    assert "client secret replaced" in page and "rotate client secret (done)" in page
    assert "n3w-s3cret" not in page


def test_a_customer_shows_its_bot_policy_and_consent_links(
    admin_client, admin_user, role_client, customer, google_app
):
    policy = BotPolicy.objects.create(customer=customer)
    response = admin_client.post(
        reverse("admin:calendars_botpolicy_change", args=[policy.pk]),
        {
            "customer": customer.pk,
            "mode": "record_all",
            "bot_scope": "customer",
            "bot_name": "Acme notes",
            "recording_mode": "speaker_view",
            "transcription_api_key": "tr4nscribe-key",
        },
    )
    assert response.status_code == 302, response.content[:500]
    links.create_connect_link(customer, [google_app], acting_user=admin_user)

    auditor = role_client("Auditor")
    customer_page = history_page(auditor, customer)
    policy_page = history_page(auditor, policy)

    for page in (customer_page, policy_page):
        assert "bot policy changed" in page and "mode: scheduled_only → record_all" in page
        assert "transcription API key replaced" in page and "tr4nscribe-key" not in page
    assert "consent link created" in customer_page


@pytest.mark.clock
def test_no_history_page_shows_a_raw_iso_time(admin_client, credential):
    url = reverse("admin:calendars_credential_change", args=[credential.pk])
    data = {
        "customer": credential.customer.pk,
        "oauth_app": credential.oauth_app.pk,
        "account_email": credential.account_email,
        "refresh_token": "1//another-token",
    }
    assert admin_client.post(url, data).status_code == 302

    for page in (
        history_page(admin_client, credential),
        admin_client.get(url).content.decode(),  # the change page's own timeline
    ):
        assert not ISO_TIME.search(page)
        assert "∅" not in page


def test_a_model_without_a_timeline_keeps_djangos_history_page(admin_client, credential):
    raw = credential.raw_calendars.create(provider_id="team@example.com", listed_at=timezone.now())

    page = history_page(admin_client, raw)

    assert NO_HISTORY in page
