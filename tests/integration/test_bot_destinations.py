"""Where a customer's recordings go is an Admin's decision: callbacks only to the hosts
BOT_CALLBACK_HOSTS allows, callback and transcription settings changed by the Admin role only,
and an integration an Admin disconnected on purpose connected again by an Admin only."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import TestCase
from django.urls import reverse

from calendars.actions.integrations import create_integration
from calendars.actions.refresh import refresh_integration
from calendars.meetingbaas import errors
from calendars.meetingbaas.transport import Transport
from calendars.meetingbaas.v2 import V2Client
from calendars.models import BotPolicy, BulkJobItem, Integration

ATTACKER = "https://attacker.example/collect"
ALLOWED = "https://hooks.acme.example/bots"


def policy_form(customer, **changes) -> dict:
    return {
        "customer": customer.pk,
        "mode": "record_all",
        "bot_scope": "customer",
        "bot_name": "Acme notes",
        "recording_mode": "speaker_view",
        "bot_image": "",
        "entry_message": "",
        "waiting_room_timeout": 600,
        "no_one_joined_timeout": 600,
        "silence_timeout": 600,
        "transcription_api_key": "",
        **changes,
    }


@pytest.fixture
def allowed_hosts(settings):
    settings.BOT_CALLBACK_HOSTS = frozenset({"hooks.acme.example"})


def test_support_cannot_send_recordings_or_keys_anywhere(role_client, customer, allowed_hosts):
    support = role_client("Support")

    support.post(
        reverse("admin:calendars_botpolicy_add"),
        policy_form(
            customer,
            callback_url=ALLOWED,
            transcription_enabled="on",
            transcription_api_key="attackers-gladia-key",
        ),
    )

    policy = BotPolicy.objects.get(customer=customer)  # the rest of the policy is kept
    assert policy.bot_name == "Acme notes"
    assert policy.callback_url == "" and not policy.transcription_enabled
    assert policy.transcription_api_key is None


def test_support_editing_a_policy_keeps_the_admins_destinations(
    role_client, customer, allowed_hosts
):
    policy = BotPolicy.objects.create(
        customer=customer, callback_url=ALLOWED, transcription_enabled=True
    )

    role_client("Support").post(
        reverse("admin:calendars_botpolicy_change", args=[policy.pk]),
        policy_form(customer, bot_name="Renamed", callback_url=ATTACKER),
    )

    policy.refresh_from_db()
    assert policy.bot_name == "Renamed"
    assert policy.callback_url == ALLOWED and policy.transcription_enabled


@pytest.mark.parametrize(
    "url", [ATTACKER, "http://hooks.acme.example/bots", "https://hooks.acme.example.evil.io/"]
)
def test_an_admin_may_send_callbacks_only_to_an_allowed_host(
    role_client, customer, allowed_hosts, url
):
    response = role_client("Admin").post(
        reverse("admin:calendars_botpolicy_add"), policy_form(customer, callback_url=url)
    )

    assert response.status_code == 200 and "allowed hosts" in response.content.decode()
    assert not BotPolicy.objects.exists()


def test_an_admin_sets_an_allowed_callback(role_client, customer, allowed_hosts):
    role_client("Admin").post(
        reverse("admin:calendars_botpolicy_add"), policy_form(customer, callback_url=ALLOWED)
    )

    policy = BotPolicy.objects.get(customer=customer)
    assert policy.callback_url == ALLOWED
    assert policy.bot_config().callback_url == ALLOWED


def test_no_callback_is_sent_once_its_host_is_no_longer_allowed(customer, settings):
    policy = BotPolicy.objects.create(customer=customer, callback_url=ATTACKER)
    settings.BOT_CALLBACK_HOSTS = frozenset()

    assert policy.bot_config().callback_url is None


def recreate_as(client, integration: Integration) -> BulkJobItem:
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(
            reverse("admin:calendars_integration_changelist"),
            {"action": "recreate", "_selected_action": [integration.pk], "confirm": "1"},
        )
    return BulkJobItem.objects.get(job__kind="recreate")


def disconnect_as_admin(admin_client, integration: Integration) -> None:
    with TestCase.captureOnCommitCallbacks(execute=True):
        admin_client.post(
            reverse("admin:calendars_integration_changelist"),
            {"action": "disconnect", "_selected_action": [integration.pk], "confirm": "1"},
        )


def test_support_cannot_recreate_what_an_admin_disconnected(role_client, make_integration):
    integration = make_integration()
    disconnect_as_admin(role_client("Admin"), integration)

    item = recreate_as(role_client("Support"), integration)

    assert item.state == "failed" and "only an Admin" in item.reason
    support = get_user_model().objects.get(username="support-user")
    with pytest.raises(errors.InvalidRequest):
        create_integration(integration.raw_calendar, acting_user=support)
    assert Integration.objects.count() == 1


def test_support_recreates_what_meeting_baas_disconnected(role_client, sandbox, make_integration):
    integration = make_integration()
    V2Client(Transport(sandbox.transport_config())).delete_connection(integration.remote_id)
    assert refresh_integration(integration.pk).status == "disconnected"  # gone remotely

    item = recreate_as(role_client("Support"), integration)

    assert item.state == "done", item.reason
    assert Integration.objects.count() == 2


def test_an_admin_recreates_what_an_admin_disconnected(role_client, make_integration):
    integration = make_integration()
    admin_client = role_client("Admin")
    disconnect_as_admin(admin_client, integration)

    item = recreate_as(admin_client, integration)

    assert item.state == "done"
    assert Integration.objects.count() == 2


def test_only_an_admin_is_offered_recreate_for_what_an_admin_disconnected(
    role_client, make_integration
):
    integration = make_integration()
    admin_client = role_client("Admin")
    disconnect_as_admin(admin_client, integration)
    page = reverse("admin:calendars_integration_change", args=[integration.pk])

    assert b'id="fix-recreate"' in admin_client.get(page).content
    assert b'id="fix-recreate"' not in role_client("Support").get(page).content
