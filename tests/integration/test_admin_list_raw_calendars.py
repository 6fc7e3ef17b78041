"""The "List raw calendars" action on credentials."""

from __future__ import annotations

from django.contrib.messages import get_messages
from django.urls import reverse

from calendars.models import Credential, RawCalendar

CHANGELIST = reverse("admin:calendars_credential_changelist")


def run_action(client, *credentials: Credential):
    data = {"action": "list_raw_calendars", "_selected_action": [c.pk for c in credentials]}
    return client.post(CHANGELIST, data)


def test_it_stores_and_shows_the_calendars(admin_client, sandbox, credential):
    response = run_action(admin_client, credential)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Team meetings" in html and "On-call" in html
    assert html.count("Create integration</button>") == 3
    assert RawCalendar.objects.filter(credential=credential).count() == 3
    primary = RawCalendar.objects.get(is_primary=True)
    assert primary.provider_id == "alice@example.com"
    credential.refresh_from_db()
    assert credential.last_check_ok is True


def test_listing_twice_updates_instead_of_duplicating(admin_client, sandbox, credential):
    run_action(admin_client, credential)
    run_action(admin_client, credential)

    assert RawCalendar.objects.filter(credential=credential).count() == 3


def test_a_revoked_token_is_a_clear_message_and_saves_nothing(admin_client, sandbox, credential):
    credential.refresh_token = "revoked:alice@example.com"
    credential.save()

    response = run_action(admin_client, credential)

    assert response.status_code == 200
    text = " ".join(str(m) for m in get_messages(response.wsgi_request))
    assert "refused the OAuth credentials" in text and "invalid_grant" in text
    assert not RawCalendar.objects.exists()
    credential.refresh_from_db()
    assert credential.last_check_ok is False
    assert "invalid_grant" in credential.last_check_message


def test_an_outage_is_reported_and_saves_nothing(admin_client, sandbox, credential):
    sandbox.fault("POST", "/v2/calendars/list-raw", "status", status=503, count=10)

    response = run_action(admin_client, credential)

    assert response.status_code == 200
    text = " ".join(str(m) for m in get_messages(response.wsgi_request))
    assert "unavailable" in text
    assert not RawCalendar.objects.exists()


def test_one_failing_credential_does_not_stop_the_others(
    admin_client, sandbox, credential, customer, google_app
):
    broken = Credential.objects.create(
        customer=customer,
        oauth_app=google_app,
        account_email="x@example.com",
        refresh_token="revoked",
    )

    response = run_action(admin_client, credential, broken)

    assert response.status_code == 200
    assert RawCalendar.objects.filter(credential=credential).count() == 3
    assert b"Token has been expired or revoked" in response.content


def test_a_calendar_with_an_integration_shows_its_status(admin_client, sandbox, credential):
    run_action(admin_client, credential)
    primary = RawCalendar.objects.get(is_primary=True)
    admin_client.post(
        reverse("admin:calendars_rawcalendar_changelist"),
        {"action": "create_integration", "_selected_action": [primary.pk]},
    )

    html = run_action(admin_client, credential).content.decode()

    assert html.count("Create integration</button>") == 2
    assert ">Syncing</a>" in html
