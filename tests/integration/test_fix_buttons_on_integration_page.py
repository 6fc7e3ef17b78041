"""An integration's page carries its diagnosis's fixes, for the roles that may run them."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from calendars.actions.integrations import disconnect_integration
from calendars.actions.refresh import refresh_integration
from calendars.models import BulkJob, Integration

REVOKED = "invalid_grant: Token has been expired or revoked."


def diagnosis_box(page: str) -> str:
    box = re.search(r'<section id="diagnosis".*?</section>', page, re.S)
    assert box, "the page has no diagnosis box"
    return box.group(0)


def fix_buttons(client, integration: Integration) -> list[tuple[str, str, str, str]]:
    """(label, form action, action, selected id) of each fix button, in the page's order."""
    page = client.get(reverse("admin:calendars_integration_change", args=[integration.pk]))
    assert page.status_code == 200
    forms = re.findall(
        r'<form method="post" action="([^"]+)">.*?name="action" value="([^"]+)">'
        r'.*?name="_selected_action" value="([^"]+)">.*?<button[^>]*>(.*?)</button>',
        diagnosis_box(page.content.decode()),
        re.S,
    )
    return [(label, url, action, pk) for url, action, pk, label in forms]


def labels(buttons: list[tuple[str, str, str, str]]) -> list[str]:
    return [label for label, *_ in buttons]


@pytest.fixture
def revoked(sandbox, make_integration) -> Integration:
    integration = make_integration()
    sandbox.force(integration.remote_id, status="error", status_message=REVOKED)
    return refresh_integration(integration.pk)


def test_the_recommended_fix_comes_first_and_acts_on_the_credential(role_client, revoked):
    buttons = fix_buttons(role_client("Admin"), revoked)

    assert labels(buttons) == [
        "Recommended: Create re-consent link (on its credential)",
        "Replace refresh token (on its credential)",
        "Resync events",
        "Renew push subscription",
        "Disconnect",
    ]
    _, url, action, pk = buttons[0]
    assert url == reverse("admin:calendars_credential_changelist")
    assert (action, pk) == ("create_reconsent_link", str(revoked.credential_id))


def test_a_button_leads_to_the_same_confirmation_as_the_list(role_client, revoked):
    client = role_client("Admin")
    _, url, action, pk = fix_buttons(client, revoked)[2]

    confirm = client.post(url, {"action": action, "_selected_action": [pk]})

    assert confirm.status_code == 200
    assert "Resync events: confirm" in confirm.content.decode()
    assert "Yes, go ahead" in confirm.content.decode()
    assert not BulkJob.objects.exists()  # nothing runs before the person confirms


def test_support_gets_no_disconnect_button_and_a_posted_disconnect_is_refused(
    role_client, sandbox, revoked
):
    client = role_client("Support")

    assert labels(fix_buttons(client, revoked)) == [
        "Recommended: Create re-consent link (on its credential)",
        "Replace refresh token (on its credential)",
        "Resync events",
        "Renew push subscription",
    ]
    refused = client.post(
        reverse("admin:calendars_integration_changelist"),
        {"action": "disconnect", "_selected_action": [revoked.pk], "confirm": "1"},
        follow=True,
    )
    assert "No action selected." in refused.content.decode()
    assert not BulkJob.objects.exists()
    revoked.refresh_from_db()
    assert revoked.is_live


def test_an_auditor_gets_no_button_and_a_posted_resync_is_refused(role_client, revoked):
    client = role_client("Auditor")

    assert fix_buttons(client, revoked) == []
    refused = client.post(
        reverse("admin:calendars_integration_changelist"),
        {"action": "resync", "_selected_action": [revoked.pk], "confirm": "1"},
        follow=True,
    )
    # With no action at all, the list ignores the post and shows itself.
    assert "Resync events: confirm" not in refused.content.decode()
    assert not BulkJob.objects.exists()


def test_a_refused_client_secret_recommends_rotating_it_to_those_who_may(
    role_client, sandbox, make_integration
):
    integration = make_integration()
    sandbox.force(
        integration.remote_id, status="error", status_message="invalid_client: Unauthorized"
    )
    refresh_integration(integration.pk)

    admin_buttons = fix_buttons(role_client("Admin"), integration)
    assert admin_buttons[0][0] == "Recommended: Rotate client secret (on its OAuth app)"
    assert admin_buttons[0][1:3] == (
        reverse("admin:calendars_oauthapp_changelist"),
        "rotate_client_secret",
    )


def test_support_is_not_offered_a_client_secret_rotation(role_client, sandbox, make_integration):
    integration = make_integration()
    sandbox.force(
        integration.remote_id, status="error", status_message="invalid_client: Unauthorized"
    )
    refresh_integration(integration.pk)

    assert "Rotate client secret" not in " ".join(
        labels(fix_buttons(role_client("Support"), integration))
    )


def test_a_disconnected_integration_offers_recreate_only(role_client, make_integration):
    integration = make_integration()
    disconnect_integration(integration.pk)

    # Disconnected on purpose: connecting it again is the Admin role's (Support gets nothing).
    assert labels(fix_buttons(role_client("Admin"), integration)) == ["Recreate from raw calendar"]
    assert labels(fix_buttons(role_client("Support"), integration)) == []
