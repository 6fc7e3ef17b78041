"""Why an integration is broken, in plain words, and what to do about it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from calendars.models import Integration
from calendars.status import PortalStatus, is_deliberately_disconnected


@dataclass(frozen=True)
class Diagnosis:
    code: str
    title: str
    hint: str
    next_action: str
    transient: bool = False


TOKEN_REFUSED = Diagnosis(
    "token_refused",
    "Refresh token refused or revoked",
    "The customer's grant no longer works: they revoked access, the token expired (Google: unused "
    'for 6 months; Microsoft: 90 days), or the Google app is in "Testing" and consent lapsed '
    "after 7 days.",
    "Ask the customer to connect again (Google: access_type=offline, prompt=consent; Microsoft: "
    'offline_access), then use "Replace refresh token" on the credential.',
)
CLIENT_SECRET = Diagnosis(
    "client_secret",
    "Client secret wrong or expired",
    "Google or Microsoft refused the OAuth app itself: its client secret is wrong, expired or "
    "was rotated in the provider's console.",
    'Create a new client secret in the provider\'s console and use "Rotate client secret" on the '
    "OAuth app; it is pushed to every integration that uses the app.",
)
LICENCE = Diagnosis(
    "licence_missing",
    "Microsoft licence missing",
    "The Microsoft account has no Exchange Online mailbox licence, so its calendar cannot be read.",
    "Ask the customer's Microsoft 365 administrator to assign a licence with Exchange Online, "
    "then resync.",
)
PERMISSION = Diagnosis(
    "permission_denied",
    "Permission denied",
    "The account did not grant the calendar scopes, or an administrator policy blocks the app.",
    "Ask the customer to reconnect granting calendar access (or their admin to allow the app), "
    "then replace the refresh token.",
)
TRANSIENT = Diagnosis(
    "transient",
    "Rate limited or Meeting BaaS unavailable",
    "A temporary condition on Meeting BaaS or the provider.",
    "Nothing to do: the next refresh retries. Resync later if it persists.",
    transient=True,
)
GONE = Diagnosis(
    "not_found",
    "Not found remotely",
    "The connection no longer exists on Meeting BaaS: it was deleted outside the portal or its "
    "access was revoked.",
    "Recreate the integration from its raw calendar (after a new refresh token if access was "
    "revoked).",
)
UNKNOWN = Diagnosis(
    "unknown",
    "Unrecognised error",
    "Meeting BaaS reported an error this portal does not recognise; its exact message is below.",
    "Resync; if it persists, contact Meeting BaaS support with the integration's Meeting BaaS id.",
)

# Only the start of a message is classified: every known error says what it is in its first
# sentence, and remote text can be arbitrarily long (a signed webhook may carry megabytes).
CLASSIFIED_CHARS = 4096

# First match wins: more specific patterns come first. No pattern may repeat without a bound
# (`.*`, `.+`): searched from every position of the text, an unbounded gap makes a search
# quadratic in the text's length. Bounded gaps keep it linear.
PATTERNS: list[tuple[re.Pattern, Diagnosis]] = [
    (re.compile(r"invalid_client|client secret|unauthorized_client", re.I), CLIENT_SECRET),
    (
        re.compile(
            r"invalid_grant|refresh token|expired or revoked|token.{0,40}?(?:expired|revoked)",
            re.I,
        ),
        TOKEN_REFUSED,
    ),
    (re.compile(r"licen[cs]e|mailbox is either inactive|hosted on-premise", re.I), LICENCE),
    (re.compile(r"permission|insufficient|forbidden|access denied|scope", re.I), PERMISSION),
    (
        re.compile(
            r"rate limit|too many requests|\b429\b|unavailable|\b50[234]\b|timed? ?out|quota", re.I
        ),
        TRANSIENT,
    ),
    (re.compile(r"not found|deleted on meeting baas|\b404\b|revoked", re.I), GONE),
]


def diagnose(status: str, message: str, remote_status: str = "") -> Diagnosis | None:
    """The class of problem behind an error or disconnection, or None when nothing is wrong."""
    if status not in (PortalStatus.ERROR, PortalStatus.DISCONNECTED):
        return None
    if remote_status == "permission_denied":
        return PERMISSION
    text = (message or "")[:CLASSIFIED_CHARS]
    for pattern, diagnosis in PATTERNS:
        if pattern.search(text):
            return diagnosis
    return GONE if status == PortalStatus.DISCONNECTED else UNKNOWN


def diagnosis_of(integration: Integration) -> Diagnosis | None:
    """What is wrong with an integration, in plain words; None when healthy or disconnected on
    purpose."""
    if is_deliberately_disconnected(integration.status, integration.status_cause):
        return None
    return diagnose(integration.status, integration.error_message, integration.remote_status)
