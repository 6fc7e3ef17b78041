"""Errors are classified into a few plain-language problems with a next step."""

from __future__ import annotations

import pytest

from calendars.diagnosis import diagnose


@pytest.mark.parametrize(
    ("status", "message", "remote_status", "code"),
    [
        ("error", "invalid_grant: Token has been expired or revoked.", "", "token_refused"),
        (
            "error",
            "invalid_client: The OAuth client was not found or its secret is wrong.",
            "",
            "client_secret",
        ),
        (
            "error",
            "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
            "",
            "licence_missing",
        ),
        (
            "error",
            "Meeting BaaS reports status 'permission_denied'.",
            "permission_denied",
            "permission_denied",
        ),
        ("error", "Meeting BaaS is rate limiting us, retry in 3 s", "", "transient"),
        (
            "error",
            "Meeting BaaS is unavailable or did not answer in time (HTTP 503)",
            "",
            "transient",
        ),
        ("disconnected", "Deleted on Meeting BaaS at 2026-11-25T10:00:00Z.", "", "not_found"),
        (
            "disconnected",
            "Meeting BaaS does not know this calendar connection (HTTP 404)",
            "",
            "not_found",
        ),
        ("error", "something nobody has seen before", "", "unknown"),
    ],
)
def test_each_error_gets_its_class(status, message, remote_status, code):
    diagnosis = diagnose(status, message, remote_status)

    assert diagnosis.code == code
    assert diagnosis.hint and diagnosis.next_action


@pytest.mark.parametrize("status", ["active", "syncing"])
def test_a_healthy_integration_has_no_diagnosis(status):
    assert diagnose(status, "invalid_grant") is None


def test_the_diagnosis_and_exact_message_show_on_the_page_and_list(
    admin_client, sandbox, make_integration
):
    from django.urls import reverse

    from calendars import operations

    integration = make_integration()
    sandbox.force(
        integration.remote_id,
        status="error",
        status_message="invalid_grant: Token has been expired or revoked.",
    )
    operations.refresh_integration(integration.pk)

    page = admin_client.get(
        reverse("admin:calendars_integration_change", args=[integration.pk])
    ).content.decode()
    listing = admin_client.get(reverse("admin:calendars_integration_changelist")).content.decode()

    assert "Refresh token refused or revoked" in page and "Replace refresh token" in page
    assert "invalid_grant: Token has been expired or revoked." in page
    assert "Refresh token refused or revoked" in listing
