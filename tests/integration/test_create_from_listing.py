"""Creating integrations from the raw-calendar result page: several in one step, on the page."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from calendars.actions.integrations import create_integration
from calendars.models import ActionRecord, Credential, Integration, RawCalendar

CREDENTIALS = reverse("admin:calendars_credential_changelist")
CREATE = reverse("admin:calendars_rawcalendar_create_from_listing")


def list_calendars(client, *credentials: Credential):
    data = {"action": "list_raw_calendars", "_selected_action": [c.pk for c in credentials]}
    return client.post(CREDENTIALS, data)


@pytest.fixture
def accounts(credential, customer, google_app) -> list[Credential]:
    """Two accounts of three calendars each (the sandbox's primary, team and on-call)."""
    bob = Credential.objects.create(
        customer=customer,
        oauth_app=google_app,
        account_email="bob@example.com",
        refresh_token="1//refresh:bob@example.com",
    )
    return [credential, bob]


def shown_on(listing) -> list[str]:
    """The raw calendars the result page's form carries, in the page's order."""
    return re.findall(r'name="shown" value="(\d+)"', listing.content.decode())


def messages_of(response) -> str:
    return " ".join(str(m) for m in get_messages(response.wsgi_request))


def test_the_page_offers_a_box_per_calendar_and_both_buttons(admin_client, sandbox, credential):
    html = list_calendars(admin_client, credential).content.decode()

    assert html.count('type="checkbox" name="raw_calendar"') == 3
    assert "Create integrations for the selected</button>" in html
    assert "Create integrations for all</button>" in html
    assert f'action="{CREATE}"' in html


def test_six_calendars_are_created_in_one_step_and_shown_in_place(role_client, sandbox, accounts):
    client = role_client("Support")
    shown = shown_on(list_calendars(client, *accounts))

    response = client.post(CREATE, {"shown": shown, "create": "all"})

    assert response.status_code == 200  # the same page, not a redirect
    assert len(shown) == Integration.objects.count() == 6
    assert len(sandbox.requests_to("POST", "/v2/calendars")) == 6 + 2  # six creates, two lists
    html = response.content.decode()
    for integration in Integration.objects.all():
        url = reverse("admin:calendars_integration_change", args=[integration.pk])
        assert f'href="{url}">Syncing</a>' in html
    assert html.count("Created.") == 6
    assert "6 integrations created." in messages_of(response)
    assert ActionRecord.objects.filter(action="create integration", succeeded=True).count() == 6
    assert "Create integration</button>" not in html  # nothing left to create


def test_only_the_selected_are_created_and_the_rows_stay_where_they_were(
    admin_client, sandbox, accounts
):
    listing = list_calendars(admin_client, *accounts)
    shown = shown_on(listing)
    picked = [shown[1], shown[4]]

    response = admin_client.post(
        CREATE, {"shown": shown, "raw_calendar": picked, "create": "selected"}
    )

    created_for = Integration.objects.values_list("raw_calendar", flat=True)
    assert sorted(created_for) == sorted(int(pk) for pk in picked)
    assert shown_on(response) == shown
    assert response.content.decode().count("Create integration</button>") == 4


def test_an_already_live_calendar_is_reported_as_such_not_duplicated(
    admin_client, sandbox, accounts
):
    shown = shown_on(list_calendars(admin_client, *accounts))
    raw = RawCalendar.objects.get(pk=shown[0])
    existing = create_integration(raw).integration  # say, from another tab meanwhile

    response = admin_client.post(
        CREATE, {"shown": shown, "raw_calendar": [shown[0], shown[1]], "create": "selected"}
    )

    assert list(Integration.objects.filter(raw_calendar=raw)) == [existing]
    assert Integration.objects.count() == 2
    html = response.content.decode()
    assert "Already had this integration: none created." in html
    assert "1 integration created, 1 already existed." in messages_of(response)


def test_one_failure_does_not_stop_the_others(admin_client, sandbox, accounts):
    shown = shown_on(list_calendars(admin_client, *accounts))
    sandbox.fault("POST", "/v2/calendars", "status", status=500, count=1)

    response = admin_client.post(CREATE, {"shown": shown, "create": "all"})

    assert Integration.objects.count() == 5
    assert response.content.decode().count("Could not create:") == 1
    assert "5 integrations created, 1 could not be created (see below)." in messages_of(response)


def test_a_row_button_creates_that_calendar_only(admin_client, sandbox, accounts):
    shown = shown_on(list_calendars(admin_client, *accounts))

    admin_client.post(CREATE, {"shown": shown, "create": shown[2]})

    assert list(Integration.objects.values_list("raw_calendar", flat=True)) == [int(shown[2])]


def test_an_auditor_direct_post_is_refused(role_client, sandbox, accounts):
    for credential in accounts:
        RawCalendar.objects.create(
            credential=credential, provider_id=credential.account_email, listed_at=timezone.now()
        )
    client = role_client("Auditor")

    response = client.post(
        CREATE, {"shown": RawCalendar.objects.values_list("pk", flat=True), "create": "all"}
    )

    assert response.status_code == 403
    assert not Integration.objects.exists()
    assert not sandbox.requests_to("POST", "/v2/calendars")


def test_malformed_ids_are_left_out(admin_client, sandbox, accounts):
    shown = shown_on(list_calendars(admin_client, *accounts))

    response = admin_client.post(
        CREATE, {"shown": ["abc", "²", "9" * 40, shown[0]], "create": "all"}
    )

    assert response.status_code == 200
    assert list(Integration.objects.values_list("raw_calendar", flat=True)) == [int(shown[0])]
