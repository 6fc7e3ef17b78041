"""Microsoft admin consent: when a tenant lets no user grant an app alone, its administrator
approves the app for the whole organisation, and the person's own link then works.

Microsoft refuses such a person with `consent_required`, or `access_denied` and one of the
AADSTS codes below in its description (AADSTS65004 is a person's own "Cancel", which is not
this). The administrator goes through Microsoft's admin consent endpoint, which answers the
portal's callback with `admin_consent=True&tenant=<id>` or an error, and no code: nothing in it
is signed, so the answer is bound to the link and the administrator's browser by the `state`
alone (views.py keeps it in the session, as for a person's sign-in), and its tenant is compared
with the one the portal knows for the link, where it knows one. The person's next grant is what
proves access, as always.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from calendars.consent.flow import callback_url
from calendars.consent.grants import Result, record
from calendars.consent.identity import GUID
from calendars.consent.providers import provider_of
from calendars.meetingbaas.types import Platform
from calendars.models import ConsentLink, OAuthApp

Outcome = ConsentLink.Outcome
# "Need admin approval": the user may not consent (65001: not consented, with prompt=none;
# 90094: the grant requires admin permission; 90095: admin consent is required and may be
# requested). https://learn.microsoft.com/entra/identity-platform/reference-error-codes
ADMIN_CONSENT_CODES = ("AADSTS65001", "AADSTS90094", "AADSTS90095")
AADSTS = re.compile(r"\bAADSTS\d{5,6}\b")
# Only the start of a provider's description is searched: it is written by whoever holds the
# link, and its code comes first.
MAX_DESCRIPTION = 500
# Where any organisation's administrator may approve (Microsoft's name for "any work tenant").
ANY_ORGANISATION = "organizations"


@dataclass(frozen=True)
class Started:
    url: str
    state: str


def needs_admin(app: OAuthApp, error: str, description: str) -> str:
    """The reason Microsoft gave when it refused for want of an administrator's approval (the
    error or AADSTS code); "" for any other refusal."""
    if app.provider != Platform.MICROSOFT:
        return ""
    if error == "consent_required":
        return error
    if error == "access_denied":
        for code in AADSTS.findall(description[:MAX_DESCRIPTION]):
            if code in ADMIN_CONSENT_CODES:
                return code
    return ""


def expected_tenant(link: ConsentLink, app: OAuthApp) -> str:
    """The tenant whose administrator must approve, where the portal knows it: a single-tenant
    app's, or the re-consented account's (its proven subject); "" when any may."""
    if GUID.match(app.tenant.lower()):
        return app.tenant.lower()
    subject = link.credential.subject if link.credential else ""
    tenant = subject.partition("/")[0]
    return tenant if GUID.match(tenant) else ""


def begin(link: ConsentLink, app: OAuthApp) -> Started:
    """Microsoft's admin consent URL for the link's organisation, with a fresh `state`."""
    provider = provider_of(app)
    state = secrets.token_urlsafe(32)
    query = urlencode(
        {
            "client_id": app.client_id,
            "scope": " ".join(provider.admin_consent_scopes(app)),
            "redirect_uri": callback_url(),
            "state": state,
        }
    )
    tenant = expected_tenant(link, app) or ANY_ORGANISATION
    return Started(f"{provider.admin_consent_url(tenant)}?{query}", state)


def finish(link: ConsentLink, app: OAuthApp, answer: Mapping[str, str], *, said: str) -> Result:
    """Record the administrator's answer on the admin consent link and on the link whose
    person asked for it. `said` is the provider's error as it may be repeated to staff."""
    error = answer.get("error", "")
    if error == "access_denied":
        return _refused(link, "The administrator did not approve at Microsoft.")
    if error:
        return _refused(link, f"Microsoft refused the approval {said}.", outcome=None)
    tenant = answer.get("tenant", "").lower()
    if answer.get("admin_consent", "").lower() != "true" or not GUID.match(tenant):
        return _refused(link, "Microsoft's answer said neither approved nor refused.", outcome=None)
    expected = expected_tenant(link, app)
    if expected and tenant != expected:
        record(
            link,
            Outcome.PROVIDER_ERROR,
            f"Approved for tenant {tenant}, not the expected {expected}: not taken.",
        )
        return Result(
            Outcome.PROVIDER_ERROR,
            f"You approved for another Microsoft organisation than {link.customer}'s, which "
            f"does not help its people. Try again, signed in as an administrator of "
            f"{link.customer}'s organisation.",
            can_retry=True,
        )
    message = f"Approved by the administrator of tenant {tenant}."
    with transaction.atomic():
        link = ConsentLink.objects.select_for_update().get(pk=link.pk)
        if not link.is_usable:
            return Result(link.outcome, "This link has already been used or is no longer valid.")
        link.used_at = timezone.now()
        link.save(update_fields=["used_at"])
        record(link, Outcome.ADMIN_APPROVED, message)
        original = link.for_link
        if original is not None and original.is_usable:
            record(
                original,
                Outcome.ADMIN_APPROVED,
                f"{message} (admin consent link {link.pk}): the person can open this link again.",
                email=original.granted_by_email,
            )
    return Result(
        Outcome.ADMIN_APPROVED,
        f"Thank you: the people of {link.customer} can now grant "
        f"{settings.PORTAL_COMPANY_NAME} access to their calendars, each through their own "
        "link. There is nothing more to do here; you can close this page.",
    )


def _refused(
    link: ConsentLink, message: str, *, outcome: str | None = Outcome.ADMIN_REFUSED
) -> Result:
    record(link, outcome or Outcome.PROVIDER_ERROR, message)
    original = link.for_link
    if outcome and original is not None and original.is_usable:
        record(
            original,
            outcome,
            f"{message} (admin consent link {link.pk})",
            email=original.granted_by_email,
        )
    words = (
        "You did not approve. Nothing was changed. If you change your mind, try again."
        if outcome
        else "Microsoft reported a problem. Nothing was changed; please try again."
    )
    return Result(outcome or Outcome.PROVIDER_ERROR, words, can_retry=True)
