"""The "Create integration" action: one integration per raw calendar, whatever happens."""

from __future__ import annotations

import threading

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from calendars.actions.integrations import create_integration
from calendars.actions.refresh import mark_disconnected
from calendars.meetingbaas.transport import Transport
from calendars.meetingbaas.v2 import V2Client
from calendars.models import Integration, RawCalendar, StatusChange

CHANGELIST = reverse("admin:calendars_rawcalendar_changelist")


@pytest.fixture
def raw_calendar(credential) -> RawCalendar:
    return RawCalendar.objects.create(
        credential=credential,
        provider_id="alice@example.com",
        name="alice@example.com",
        email="alice@example.com",
        is_primary=True,
        listed_at=timezone.now(),
    )


def create(client, raw: RawCalendar):
    return client.post(CHANGELIST, {"action": "create_integration", "_selected_action": [raw.pk]})


def messages_of(response) -> str:
    return " ".join(str(m) for m in get_messages(response.wsgi_request))


def test_it_creates_the_connection_and_the_integration(
    admin_client, sandbox, raw_calendar, admin_user
):
    response = create(admin_client, raw_calendar)

    integration = Integration.objects.get()
    assert response.url == reverse("admin:calendars_integration_change", args=[integration.pk])
    assert integration.status == "syncing"
    assert integration.api_version == "v2"
    assert str(integration.remote_id) == sandbox.control("GET", "connections")[0]["calendar_id"]
    change = StatusChange.objects.get()
    assert (change.to_status, change.cause, change.user) == ("syncing", "created", admin_user)
    sent = sandbox.requests_to("POST", "/v2/calendars")[0]["json"]
    assert sent["raw_calendar_id"] == "alice@example.com"


def test_creating_twice_makes_one_integration(admin_client, sandbox, raw_calendar):
    create(admin_client, raw_calendar)
    response = create(admin_client, raw_calendar)

    assert Integration.objects.count() == 1
    assert "already has an integration" in messages_of(response)
    assert len(sandbox.requests_to("POST", "/v2/calendars")) == 1


def test_a_connection_that_already_exists_remotely_is_adopted(
    admin_client, sandbox, raw_calendar, credential
):
    remote = V2Client(Transport(sandbox.transport_config())).create_connection(
        credential.grant(), "alice@example.com"
    )

    response = create(admin_client, raw_calendar)

    assert Integration.objects.get().remote_id == remote.remote_id
    assert "adopted" in messages_of(response)


@pytest.mark.parametrize(
    "fault", [{"kind": "reset"}, {"kind": "slow", "delay": 2.5}], ids=["reset", "hang"]
)
def test_a_lost_answer_is_reconciled_to_exactly_one_integration(
    admin_client, sandbox, raw_calendar, fault
):
    sandbox.fault("POST", "/v2/calendars", **fault)

    response = create(admin_client, raw_calendar)

    assert len(sandbox.control("GET", "connections")) == 1
    integration = Integration.objects.get()
    assert str(integration.remote_id) == sandbox.control("GET", "connections")[0]["calendar_id"]
    assert "adopted" in messages_of(response)


def test_a_server_error_creates_nothing_and_says_so(admin_client, sandbox, raw_calendar):
    sandbox.fault("POST", "/v2/calendars", "status", status=500)

    response = create(admin_client, raw_calendar)

    assert response.status_code == 302
    assert not Integration.objects.exists()
    assert not StatusChange.objects.exists()
    assert "safe to try again" in messages_of(response)


def test_a_refused_token_creates_nothing(admin_client, sandbox, raw_calendar, credential):
    credential.refresh_token = "revoked:alice@example.com"
    credential.save()

    response = create(admin_client, raw_calendar)

    assert not Integration.objects.exists()
    assert "invalid_grant" in messages_of(response)


def test_a_disconnected_integration_does_not_block_a_new_one(sandbox, raw_calendar):
    first = create_integration(raw_calendar).integration
    mark_disconnected(first.pk, message="gone", cause="admin_action")
    sandbox.control("POST", "reset")

    second = create_integration(raw_calendar)

    assert second.created and second.integration.pk != first.pk


@pytest.mark.django_db(transaction=True)
def test_two_browsers_at_once_make_one_integration(sandbox, raw_calendar, admin_user):
    sandbox.fault("POST", "/v2/calendars", "slow", delay=0.3)
    statuses = []

    def click() -> None:
        browser = Client()
        browser.force_login(admin_user)
        statuses.append(create(browser, raw_calendar).status_code)
        connection.close()

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [302, 302]
    assert Integration.objects.count() == 1
    assert len(sandbox.control("GET", "connections")) == 1
