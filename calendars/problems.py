"""The classes of problem behind an integration's error or disconnection, read from Meeting
BaaS's words: rules only, no queries (models store an integration's class, the queries word it).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from calendars.lib.encryption import SecretUnreadable
from calendars.meetingbaas import errors
from calendars.meetingbaas.status import REVOKED_WORDING
from calendars.status import REVOKED, PortalStatus, is_deliberately_disconnected

# What a verb (an action, a bot's scheduling, a sync) can fail with and still say something
# useful to the person who asked: Meeting BaaS's refusals and a secret this host cannot read.
PROBLEMS = (errors.MeetingBaasError, SecretUnreadable)


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
    'Send the account\'s owner a re-consent link ("Create re-consent link"): once they grant '
    "access again, the new token reaches every integration by itself. With a new token in "
    'hand, use "Replace refresh token" on the credential.',
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
    'Send the account\'s owner a re-consent link ("Create re-consent link") and ask them to '
    "grant calendar access (or their admin to allow the app); or replace the refresh token.",
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
REVOKED_GRANT = Diagnosis(
    "access_revoked",
    "Access revoked",
    "The account's owner (or their administrator) withdrew the app's access at Google or "
    "Microsoft. Meeting BaaS keeps the connection, paused: no events sync and no bot is sent.",
    'Send the account\'s owner a re-consent link ("Create re-consent link"): once they grant '
    "access again, this same integration comes back by itself. With a new token in hand, use "
    '"Replace refresh token" on the credential.',
    fixes=(Fix.RECONSENT_LINK, Fix.REPLACE_REFRESH_TOKEN),
)
GONE = Diagnosis(
    "not_found",
    "Not found remotely",
    "The connection no longer exists on Meeting BaaS: it was deleted outside the portal.",
    "Recreate the integration from its raw calendar.",
    fixes=(Fix.RECREATE, Fix.DISCONNECT),
)
UNKNOWN = Diagnosis(
    "unknown",
    "Unrecognised error",
    "Meeting BaaS reported an error this portal does not recognise; its exact message is below.",
    "Resync; if it persists, contact Meeting BaaS support with the integration's Meeting BaaS id.",
    fixes=(Fix.RESYNC,),
)

# The statuses a problem puts an integration in.
PROBLEM_STATUSES = (PortalStatus.ERROR, PortalStatus.DISCONNECTED)

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
    (re.compile(re.escape(REVOKED_WORDING), re.I), REVOKED_GRANT),
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
    if status not in PROBLEM_STATUSES:
        return None
    if status == PortalStatus.DISCONNECTED and remote_status == REVOKED:
        return REVOKED_GRANT
    text = (message or "")[:CLASSIFIED_CHARS]
    for wording in AMBIGUOUS_WORDING:
        text = text.replace(wording, "")
    found = next((d for pattern, d in PATTERNS if pattern.search(text)), None)
    if remote_status == "permission_denied" and found not in NAMED_REFUSALS:
        return PERMISSION
    if found is not None:
        return found
    return GONE if status == PortalStatus.DISCONNECTED else UNKNOWN


# Refusals a message names more exactly than Meeting BaaS's `permission_denied` status does (a
# mailbox without a licence is reported as permission denied): one classification everywhere,
# whether the words come from a credential's check or an integration's status.
NAMED_REFUSALS = (LICENCE, CLIENT_SECRET, TOKEN_REFUSED)

# Every class the diagnosis can give, in its own order (the most specific first).
CAUSES: tuple[Diagnosis, ...] = tuple(
    dict.fromkeys([REVOKED_GRANT] + [d for _, d in PATTERNS] + [UNKNOWN])
)


def problem_code(status: str, cause: str, message: str, remote_status: str) -> str:
    """The code of the class of problem an integration's own fields show, or "" when they show
    none (healthy, or disconnected on purpose)."""
    if is_deliberately_disconnected(status, cause):
        return ""
    diagnosis = diagnose(status, message, remote_status)
    return diagnosis.code if diagnosis else ""


def charted_as(to_status: str, cause: str, message: str, learned: str) -> str:
    """The class a status change is charted under among new problems, or "" when it is none (a
    change to a working status, or a disconnection someone asked for).

    A webhook says only "error": the refresh it triggers learns why, on the integration, so a
    change whose own message says nothing is charted by the integration's (`learned`).
    """
    if to_status not in PROBLEM_STATUSES or is_deliberately_disconnected(to_status, cause):
        return ""
    diagnosis = diagnose(to_status, message) or UNKNOWN
    if diagnosis is UNKNOWN:
        diagnosis = diagnose(to_status, learned) or UNKNOWN
    return diagnosis.code
