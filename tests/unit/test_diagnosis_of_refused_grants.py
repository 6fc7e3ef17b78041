"""A refused grant is classified by the provider's words, not by the portal's own summary."""

from __future__ import annotations

from calendars.meetingbaas import errors
from calendars.queries.diagnosis import diagnose


def test_a_refused_refresh_token_is_not_read_as_a_wrong_client_secret():
    refused = errors.OAuthRefused("invalid_grant: Token has been expired or revoked.")

    assert diagnose("error", str(refused)).code == "token_refused"


def test_a_refused_client_secret_still_reads_as_one():
    refused = errors.OAuthRefused("invalid_client: Unauthorized")

    assert diagnose("error", str(refused)).code == "client_secret"
