"""Errors are classified into a few plain-language problems with a next step, in linear time."""

from __future__ import annotations

import time

import pytest

from calendars.queries.diagnosis import diagnose
from tests.support.deadline import deadline

MEGABYTE = 1_000_000


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
        ("disconnected", "Access was revoked.", "revoked", "access_revoked"),
        ("disconnected", "The user withdrew consent.", "revoked", "access_revoked"),
        (
            "error",
            "Insufficient permissions for the calendar.",
            "permission_denied",
            "permission_denied",
        ),
        ("error", "", "permission_denied", "permission_denied"),
        ("error", "something nobody has seen before", "", "unknown"),
        ("error", "The access token expired at 10:00.", "", "token_refused"),
        ("error", "Token was revoked by the user.", "", "token_refused"),
    ],
)
def test_each_error_gets_its_class(status, message, remote_status, code):
    diagnosis = diagnose(status, message, remote_status)

    assert diagnosis.code == code
    assert diagnosis.hint and diagnosis.next_action


MAILBOX = (
    "The mailbox is either inactive, soft-deleted, or is hosted on-premise. "
    "(Microsoft Graph, 403 ErrorInvalidUser)"
)


def test_a_licence_refusal_has_one_class_on_a_credential_and_on_an_integration():
    """Meeting BaaS reports a mailbox without a licence as `permission_denied`: the words name
    the cause more exactly, whichever page reads them."""
    on_credential = diagnose("error", MAILBOX)
    on_integration = diagnose("error", MAILBOX, "permission_denied")

    assert on_credential.code == on_integration.code == "licence_missing"


@pytest.mark.parametrize("status", ["active", "syncing"])
def test_a_healthy_integration_has_no_diagnosis(status):
    assert diagnose(status, "invalid_grant") is None


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
