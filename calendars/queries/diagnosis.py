"""Why an integration is broken, in plain words, and what to do about it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from calendars.meetingbaas.types import ApiVersion
from calendars.models import Credential, Integration, StatusChange
from calendars.problems import REVOKED_GRANT, Diagnosis, Fix, diagnose
from calendars.status import PortalStatus, is_deliberately_disconnected

# What an integration's page offers besides its diagnosis's fixes, in this order.
INTEGRATION_FIXES = (Fix.RESYNC, Fix.RESUBSCRIBE, Fix.RECREATE, Fix.DISCONNECT)
# What a credential's page always offers; rotating the app's secret only when a check blames it.
CREDENTIAL_FIXES = (Fix.LIST_RAW_CALENDARS, Fix.RECONSENT_LINK, Fix.REPLACE_REFRESH_TOKEN)
ON_A_CREDENTIAL = {*CREDENTIAL_FIXES, Fix.ROTATE_CLIENT_SECRET}


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
        # A revoked connection still exists on Meeting BaaS: a new one would be refused (409).
        return not integration.is_reachable
    if fix == Fix.RESUBSCRIBE:
        # v1 connections have no push subscription: the action could only fail.
        return integration.is_live and integration.api_version != ApiVersion.V1
    if fix == Fix.DISCONNECT:
        return integration.is_reachable
    if fix == Fix.RESYNC:
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
    """A credential's last token check and the integrations that depend on its token (the live
    ones and the revoked ones)."""

    checked_at: datetime | None
    check_ok: bool | None  # None: never checked
    message: str  # the check's exact outcome, as the provider or Meeting BaaS worded it
    diagnosis: Diagnosis | None  # the class of a failed check
    live_integrations: list[Integration]  # the first LIVE_INTEGRATIONS_SHOWN
    live_count: int
    # Integrations whose grant was revoked: the token's owner must consent again.
    revoked_count: int
    remedies: Remedies


def credential_health(credential: Credential) -> CredentialHealth:
    """What the last check of a credential's token found, and what depends on the token."""
    diagnosis = None
    if credential.last_check_ok is False:
        # Classified as an integration error would be: the same providers word the same refusals.
        diagnosis = diagnose(PortalStatus.ERROR, credential.last_check_message)
    revoked_count = credential.integrations.revoked().count()
    if revoked_count and diagnosis is None:
        # The token may still list calendars (the check predates the revocation, or another
        # grant of the account still works): the integrations say what the owner withdrew.
        diagnosis = REVOKED_GRANT
    suggested = [f for f in (diagnosis.fixes if diagnosis else ()) if f in ON_A_CREDENTIAL]
    usual = [f for f in CREDENTIAL_FIXES if f not in suggested]
    # Revoked ones too: the token (once its owner consents again) is what brings them back.
    live = credential.integrations.reachable().select_related("raw_calendar").order_by("pk")
    shown = list(live[: LIVE_INTEGRATIONS_SHOWN + 1])
    return CredentialHealth(
        checked_at=credential.last_checked_at,
        check_ok=credential.last_check_ok,
        message=credential.last_check_message,
        diagnosis=diagnosis,
        live_integrations=shown[:LIVE_INTEGRATIONS_SHOWN],
        live_count=len(shown) if len(shown) <= LIVE_INTEGRATIONS_SHOWN else live.count(),
        revoked_count=revoked_count,
        remedies=Remedies(
            recommended=suggested[0] if suggested else None,
            others=tuple([*suggested[1:], *usual]),
        ),
    )
