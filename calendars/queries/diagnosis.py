"""Why an integration is broken, in plain words, and what to do about it."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime

from calendars.meetingbaas import errors
from calendars.meetingbaas.types import ApiVersion
from calendars.models import Credential, Integration, StatusChange
from calendars.status import PortalStatus, is_deliberately_disconnected


class Fix(enum.StrEnum):
    """A remedy the portal offers, named as the admin action that applies it."""

    RESYNC = "resync"
    RESUBSCRIBE = "resubscribe"
    RECONSENT_LINK = "create_reconsent_link"  # on the credential: the owner grants again
    REPLACE_REFRESH_TOKEN = "replace_refresh_token"  # noqa: S105 - an action name, on the credential
    ROTATE_CLIENT_SECRET = "rotate_client_secret"  # noqa: S105 - an action name, on the OAuth app
    RECREATE = "recreate"
    DISCONNECT = "disconnect"
    LIST_RAW_CALENDARS = "list_raw_calendars"  # on the credential: checks its token


# What an integration's page offers besides its diagnosis's fixes, in this order.
INTEGRATION_FIXES = (Fix.RESYNC, Fix.RESUBSCRIBE, Fix.RECREATE, Fix.DISCONNECT)
# What a credential's page always offers; rotating the app's secret only when a check blames it.
CREDENTIAL_FIXES = (Fix.LIST_RAW_CALENDARS, Fix.RECONSENT_LINK, Fix.REPLACE_REFRESH_TOKEN)
ON_A_CREDENTIAL = {*CREDENTIAL_FIXES, Fix.ROTATE_CLIENT_SECRET}


@dataclass(frozen=True)
class Diagnosis:
    code: str
    title: str
    hint: str
    next_action: str
    transient: bool = False
    # The fixes next_action describes, the one to try first first.
    fixes: tuple[Fix, ...] = ()


TOKEN_REFUSED = Diagnosis(
    "token_refused",
    "Refresh token refused or revoked",
    "The customer's grant no longer works: they revoked access, the token expired (Google: unused "
    'for 6 months; Microsoft: 90 days), or the Google app is in "Testing" and consent lapsed '
    "after 7 days.",
    'Send the account\'s owner a "Create re-consent link" link: once they grant access again, '
    "the new token reaches every integration by itself. With a new token in hand, use "
    '"Replace refresh token" on the credential.',
    fixes=(Fix.RECONSENT_LINK, Fix.REPLACE_REFRESH_TOKEN, Fix.RECREATE),
)
CLIENT_SECRET = Diagnosis(
    "client_secret",
    "Client secret wrong or expired",
    "Google or Microsoft refused the OAuth app itself: its client secret is wrong, expired or "
    "was rotated in the provider's console.",
    'Create a new client secret in the provider\'s console and use "Rotate client secret" on the '
    "OAuth app; it is pushed to every integration that uses the app.",
    fixes=(Fix.ROTATE_CLIENT_SECRET,),
)
LICENCE = Diagnosis(
    "licence_missing",
    "Microsoft licence missing",
    "The Microsoft account has no Exchange Online mailbox licence, so its calendar cannot be read.",
    "Ask the customer's Microsoft 365 administrator to assign a licence with Exchange Online, "
    "then resync.",
    fixes=(Fix.RESYNC,),
)
PERMISSION = Diagnosis(
    "permission_denied",
    "Permission denied",
    "The account did not grant the calendar scopes, or an administrator policy blocks the app.",
    'Send the account\'s owner a "Create re-consent link" link and ask them to grant calendar '
    "access (or their admin to allow the app); or replace the refresh token.",
    fixes=(Fix.RECONSENT_LINK, Fix.REPLACE_REFRESH_TOKEN, Fix.RESYNC),
)
TRANSIENT = Diagnosis(
    "transient",
    "Rate limited or Meeting BaaS unavailable",
    "A temporary condition on Meeting BaaS or the provider.",
    "Nothing to do: the next refresh retries. Resync later if it persists.",
    transient=True,
    fixes=(Fix.RESYNC,),
)
GONE = Diagnosis(
    "not_found",
    "Not found remotely",
    "The connection no longer exists on Meeting BaaS: it was deleted outside the portal or its "
    "access was revoked.",
    "Recreate the integration from its raw calendar (after a new refresh token if access was "
    "revoked).",
    fixes=(Fix.RECREATE, Fix.DISCONNECT),
)
UNKNOWN = Diagnosis(
    "unknown",
    "Unrecognised error",
    "Meeting BaaS reported an error this portal does not recognise; its exact message is below.",
    "Resync; if it persists, contact Meeting BaaS support with the integration's Meeting BaaS id.",
    fixes=(Fix.RESYNC,),
)

# Only the start of a message is classified: every known error says what it is in its first
# sentence, and remote text can be arbitrarily long (a signed webhook may carry megabytes).
CLASSIFIED_CHARS = 4096

# The portal's own wording of a refused grant names both a refresh token and a client secret:
# which one was refused is in the provider's words after it, so it is left out of what is
# classified (a refused refresh token would otherwise read as a wrong client secret).
AMBIGUOUS_WORDING = (errors.OAuthRefused.summary,)

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
    for wording in AMBIGUOUS_WORDING:
        text = text.replace(wording, "")
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


@dataclass(frozen=True)
class Remedies:
    """The fixes a page offers: the one its diagnosis recommends, then the others that apply."""

    recommended: Fix | None
    others: tuple[Fix, ...]


def _applies(fix: Fix, integration: Integration) -> bool:
    if fix == Fix.RECREATE:
        return not integration.is_live
    if fix == Fix.RESUBSCRIBE:
        # v1 connections have no push subscription: the action could only fail.
        return integration.is_live and integration.api_version != ApiVersion.V1
    if fix in (Fix.RESYNC, Fix.DISCONNECT):
        return integration.is_live
    return True  # the credential's and the app's fixes act whatever the integration's state


def remedies_for(integration: Integration, diagnosis: Diagnosis | None) -> Remedies:
    """The diagnosis's fixes that apply to the integration as it is, then its usual actions."""
    suggested = [f for f in (diagnosis.fixes if diagnosis else ()) if _applies(f, integration)]
    usual = [f for f in INTEGRATION_FIXES if _applies(f, integration) and f not in suggested]
    ordered = [*suggested, *usual]
    if not suggested:
        return Remedies(recommended=None, others=tuple(ordered))
    return Remedies(recommended=ordered[0], others=tuple(ordered[1:]))


def status_note(integration: Integration) -> str:
    """What a status that looks contradictory beside the remote one means, or ""."""
    if integration.status == PortalStatus.SYNCING and integration.remote_status == "active":
        return (
            "Active on Meeting BaaS, first sync not finished: the status turns Active once "
            "Meeting BaaS reports that the calendar's events were synced."
        )
    return ""


def disconnection_of(integration: Integration) -> StatusChange | None:
    """The status change that disconnected the integration (who, when, why), if it is."""
    if integration.is_live:
        return None
    return (
        integration.status_changes.filter(to_status=PortalStatus.DISCONNECTED)
        .select_related("user")
        .order_by("-changed_at", "-id")
        .first()
    )


# A credential page lists this many of the integrations its token serves (a shared account can
# have hundreds; the integrations list, filtered, has them all).
LIVE_INTEGRATIONS_SHOWN = 50


@dataclass(frozen=True)
class CredentialHealth:
    """A credential's last token check and the live integrations that depend on its token."""

    checked_at: datetime | None
    check_ok: bool | None  # None: never checked
    message: str  # the check's exact outcome, as the provider or Meeting BaaS worded it
    diagnosis: Diagnosis | None  # the class of a failed check
    live_integrations: list[Integration]  # the first LIVE_INTEGRATIONS_SHOWN
    live_count: int
    remedies: Remedies


def credential_health(credential: Credential) -> CredentialHealth:
    """What the last check of a credential's token found, and what depends on the token."""
    diagnosis = None
    if credential.last_check_ok is False:
        # Classified as an integration error would be: the same providers word the same refusals.
        diagnosis = diagnose(PortalStatus.ERROR, credential.last_check_message)
    suggested = [f for f in (diagnosis.fixes if diagnosis else ()) if f in ON_A_CREDENTIAL]
    usual = [f for f in CREDENTIAL_FIXES if f not in suggested]
    live = credential.integrations.live().select_related("raw_calendar").order_by("pk")
    shown = list(live[: LIVE_INTEGRATIONS_SHOWN + 1])
    return CredentialHealth(
        checked_at=credential.last_checked_at,
        check_ok=credential.last_check_ok,
        message=credential.last_check_message,
        diagnosis=diagnosis,
        live_integrations=shown[:LIVE_INTEGRATIONS_SHOWN],
        live_count=len(shown) if len(shown) <= LIVE_INTEGRATIONS_SHOWN else live.count(),
        remedies=Remedies(
            recommended=suggested[0] if suggested else None,
            others=tuple([*suggested[1:], *usual]),
        ),
    )
