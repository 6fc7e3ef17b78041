"""The diagnosis shows where support reads a problem, however long the remote message."""

from __future__ import annotations

import time

from django.urls import reverse

from calendars.models import Integration, ProblemCount
from tests.support.deadline import deadline

MEGABYTE = 1_000_000


def test_the_diagnosis_and_exact_message_show_on_the_page_and_list(
    admin_client, sandbox, make_integration
):
    from django.urls import reverse

    from calendars.actions.refresh import refresh_integration

    integration = make_integration()
    sandbox.force(
        integration.remote_id,
        status="error",
        status_message="invalid_grant: Token has been expired or revoked.",
    )
    refresh_integration(integration.pk)

    page = admin_client.get(
        reverse("admin:calendars_integration_change", args=[integration.pk])
    ).content.decode()
    listing = admin_client.get(reverse("admin:calendars_integration_changelist")).content.decode()

    assert "Refresh token refused or revoked" in page and "Replace refresh token" in page
    assert "invalid_grant: Token has been expired or revoked." in page
    assert "Refresh token refused or revoked" in listing


def test_pages_showing_a_megabyte_status_message_still_render(
    role_client, sandbox, make_integration
):
    integration = make_integration()
    huge = "token " * (MEGABYTE // 6)
    # Straight to the database, as the longest text any path could ever have stored.
    Integration.objects.filter(pk=integration.pk).update(
        status="error", error_message=huge, remote_status_message=huge, sync_error=huge
    )
    ProblemCount.recount()  # classified, as after rows written around the portal
    client = role_client("Support")
    pages = [
        reverse("admin:index"),
        reverse("admin:calendars_integration_changelist"),
        reverse("admin:calendars_integration_change", args=[integration.pk]),
    ]

    for url in pages:
        started = time.perf_counter()
        with deadline(20):
            response = client.get(url)

        assert response.status_code == 200, url
        assert time.perf_counter() - started < 5, url
    assert "Unrecognised error" in client.get(reverse("admin:index")).content.decode()
