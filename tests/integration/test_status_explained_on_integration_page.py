"""An integration's page explains a disconnection (who, when, why) and a first sync in progress."""

from __future__ import annotations

import re

from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.timezone import localtime

from calendars.actions.integrations import disconnect_integration
from calendars.actions.refresh import refresh_integration
from calendars.models import Integration, StatusChange


def diagnosis_box(client, integration: Integration) -> str:
    page = client.get(reverse("admin:calendars_integration_change", args=[integration.pk]))
    box = re.search(r'<section id="diagnosis".*?</section>', page.content.decode(), re.S)
    assert box, "the page has no diagnosis box"
    return box.group(0)


def test_a_disconnection_by_a_person_says_by_whom_when_and_why(role_client, make_integration):
    integration = make_integration()
    client = role_client("Auditor")
    person = get_user_model().objects.create_user("dana")
    disconnect_integration(integration.pk, acting_user=person)
    change = StatusChange.objects.get(integration=integration, to_status="disconnected")

    box = diagnosis_box(client, integration)

    assert "Nothing is broken: it was disconnected on purpose." in box
    assert f"Disconnected {date_format(localtime(change.changed_at), 'DATETIME_FORMAT')}" in box
    assert "by dana (Admin action)" in box
    assert "Disconnected through the portal by dana." in box
    assert "Nothing:" not in box


def test_a_disconnection_found_by_a_refresh_says_so_with_the_api_message(
    role_client, sandbox, make_integration
):
    integration = make_integration()
    sandbox.force(integration.remote_id, status="revoked", status_message="Access was revoked.")
    refresh_integration(integration.pk)

    box = diagnosis_box(role_client("Support"), integration)

    assert "by a status refresh (Refresh)" in box
    assert (
        "“Access revoked (Meeting BaaS keeps the connection, paused): Access was revoked.”" in box
    )
    assert "Access revoked" in box  # the diagnosis stays: nobody meant this


def test_syncing_beside_an_active_remote_status_is_explained(role_client, make_integration):
    integration = make_integration()
    Integration.objects.filter(pk=integration.pk).update(status="syncing", remote_status="active")

    box = diagnosis_box(role_client("Support"), integration)

    assert "Active on Meeting BaaS, first sync not finished" in box
