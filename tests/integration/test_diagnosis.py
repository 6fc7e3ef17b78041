"""Errors are classified into a few plain-language problems with a next step."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.urls import reverse

from calendars.models import Integration
from calendars.queries.diagnosis import diagnose

MEGABYTE = 1_000_000


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Fail instead of hanging: a catastrophic regular expression runs for hours otherwise.

    The alarm interrupts even a running regular expression search.
    """

    def expire(signum: int, frame: object) -> None:
        raise AssertionError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


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
        ("error", "The access token expired at 10:00.", "", "token_refused"),
        ("error", "Token was revoked by the user.", "", "token_refused"),
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


@pytest.mark.parametrize(
    "message",
    [
        "token " * (MEGABYTE // 6),  # the quadratic case: a gap after each of many "token"s
        "x" * MEGABYTE,
        "token" + " " * MEGABYTE + "revoked",
    ],
    ids=["many-tokens", "no-match", "far-apart"],
)
def test_a_megabyte_message_is_classified_at_once(message):
    started = time.perf_counter()
    with deadline(5):
        diagnosis = diagnose("error", message)

    assert time.perf_counter() - started < 0.5
    assert diagnosis.code == "unknown"  # only the start is read: "revoked" is a megabyte away


def test_pages_showing_a_megabyte_status_message_still_render(
    role_client, sandbox, make_integration
):
    integration = make_integration()
    huge = "token " * (MEGABYTE // 6)
    # Straight to the database, as the longest text any path could ever have stored.
    Integration.objects.filter(pk=integration.pk).update(
        status="error", error_message=huge, remote_status_message=huge, sync_error=huge
    )
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
