"""What a grant through a consent link changes, and the outcome staff and the person see.

Everything a grant changes in the portal is written in one transaction with the link's
outcome: a refused grant (another account, calendar access unticked) changes nothing but the
outcome, and leaves the link usable so the person can simply try again.

An account is its subject (identity.py), never the e-mail it claims: a re-consent must come
from the credential's subject (a credential made before subjects were kept takes one at its
first re-consent, and only from the same e-mail), and a connect link never replaces a token:
it makes a credential for an account the customer has none for, and asks for a re-consent link
for one it has.

The calls to Meeting BaaS that follow (listing calendars, creating integrations, the
credential push's bulk job) are each recorded where they happen; their failure does not undo
the grant.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from calendars.actions.audit import record_action, record_for_each
from calendars.actions.credentials import list_raw_calendars, replace_refresh_token
from calendars.actions.integrations import create_integration
from calendars.consent.flow import Granted
from calendars.consent.providers import provider_of
from calendars.lib.remote_values import fit
from calendars.lib.words import counted, possessive
from calendars.models import ConsentLink, Credential, Customer, OAuthApp, RawCalendar
from calendars.problems import PROBLEMS
from calendars.status import Cause

logger = logging.getLogger(__name__)
Outcome = ConsentLink.Outcome


@dataclass(frozen=True)
class Result:
    outcome: str
    # What the person who granted is told (no ids, no other customer's data).
    message: str
    # Whether opening the link again can still succeed.
    can_retry: bool = False


def record(link: ConsentLink, outcome: str, message: str, *, email: str = "") -> None:
    """Keep the outcome of an attempt on the link (its history keeps every attempt)."""
    link.outcome = outcome
    link.outcome_message = fit(ConsentLink, "outcome_message", message)
    link.outcome_at = timezone.now()
    link.granted_by_email = fit(ConsentLink, "granted_by_email", email)
    link.save(update_fields=["outcome", "outcome_message", "outcome_at", "granted_by_email"])


@sensitive_variables("granted")
def accept(link_id: int, app: OAuthApp, granted: Granted) -> Result:
    """Apply a grant the provider confirmed to the link it was started from."""
    email = fit(ConsentLink, "granted_by_email", granted.email.strip())
    try:
        validate_email(email)
    except ValidationError:
        email = ""
    with transaction.atomic():
        link = (
            ConsentLink.objects.select_for_update(of=("self",))
            .select_related("credential__oauth_app", "customer")
            .get(pk=link_id)
        )
        if not link.is_usable:
            return Result(
                link.outcome,
                "This link has already been used or is no longer valid. Nothing "
                "was changed; ask for a new link if you still need one.",
            )
        if not email:
            record(link, Outcome.PROVIDER_ERROR, "The provider gave no usable e-mail address.")
            return Result(
                Outcome.PROVIDER_ERROR,
                "We could not tell which account you signed in with. Please try again.",
                can_retry=True,
            )
        missing = provider_of(app).missing_scopes(app, granted.scopes)
        if missing:
            record(
                link,
                Outcome.MISSING_SCOPES,
                f"{email} granted access without: {', '.join(missing)}.",
                email=email,
            )
            return Result(
                Outcome.MISSING_SCOPES,
                "Calendar access was not granted: on the consent screen, keep every calendar "
                "permission ticked, then allow. Please open the link again.",
                can_retry=True,
            )
        if link.kind == ConsentLink.Kind.RECONSENT:
            credential = link.credential
            refused = _other_account(link, credential, granted, email)
            if refused:
                return refused
            _store(link, credential, granted, email, Outcome.RECONSENTED)
        else:
            credential = _connect(link, app, granted, email)
            if isinstance(credential, Result):
                return credential
    _check(link, credential)
    if link.kind == ConsentLink.Kind.CONNECT:
        _create_integrations(link, credential)
    return Result(
        link.outcome,
        f"Thank you: {possessive(link.customer)} calendar access for {email} is in place. "
        "You can close this page.",
    )


def _other_account(
    link: ConsentLink, credential: Credential, granted: Granted, email: str
) -> Result | None:
    """The refusal of a re-consent by another account than the credential's; None if it is
    the credential's own."""
    if credential.subject:
        if granted.subject == credential.subject:
            return None
        said = f"Signed in as {email}, another account than the credential's: nothing replaced."
    elif email.casefold() == credential.account_email.casefold():
        return None
    else:
        said = f"Signed in as {email}, not {credential.account_email}: nothing replaced."
    record(link, Outcome.WRONG_ACCOUNT, said, email=email)
    return Result(
        Outcome.WRONG_ACCOUNT,
        f"You signed in as {email}, but that is not the account this link is for "
        f"({credential.account_email}). Nothing was changed. Open the link again and choose "
        "that account.",
        can_retry=True,
    )


@sensitive_variables("granted")
def _connect(link: ConsentLink, app: OAuthApp, granted: Granted, email: str) -> Credential | Result:
    """A new credential for the account, or the refusal when the customer has one for it: the
    same subject, or a credential without one under the same e-mail (it may be the same
    account, which a re-consent link proves). Another subject claiming a known e-mail gets a
    credential of its own and never touches the existing one's token."""
    # Two links of one customer granted at once must not both find no credential.
    Customer.objects.select_for_update().only("pk").get(pk=link.customer_id)
    known = (
        Credential.objects.filter(customer=link.customer, oauth_app=app)
        .filter(Q(subject=granted.subject) | Q(subject="", account_email__iexact=email))
        .first()
    )
    if known is not None:
        record(
            link,
            Outcome.KNOWN_ACCOUNT,
            f"{email} is already connected (credential {known.pk}): a connect link does not "
            "replace its token; send a re-consent link for that credential.",
            email=email,
        )
        return Result(
            Outcome.KNOWN_ACCOUNT,
            f"The account {email} is already connected for {link.customer}. Nothing was "
            f"changed. To grant access again, ask {settings.PORTAL_COMPANY_NAME} for a "
            "re-consent link for it; or open this link again and choose another account.",
            can_retry=True,
        )
    credential = Credential.objects.create(
        customer=link.customer,
        oauth_app=app,
        account_email=email,
        subject=granted.subject,
        refresh_token=granted.refresh_token,
        refresh_token_replaced_at=timezone.now(),
        consented_at=timezone.now(),
    )
    record_action(
        None,
        "connect through link",
        credential=credential,
        succeeded=True,
        message=f"{email} connected by the account owner through link {link.pk}",
    )
    _finish(link, credential, Outcome.CONNECTED, f"{email} connected.", email)
    return credential


@sensitive_variables("granted")
def _store(
    link: ConsentLink, credential: Credential, granted: Granted, email: str, outcome: str
) -> None:
    """Replace the credential's refresh token and push it to its integrations."""
    replaced = replace_refresh_token(
        credential.pk, granted.refresh_token, acting_user=None, cause=Cause.OWNER_CONSENT
    )
    Credential.objects.filter(pk=credential.pk).update(consented_at=timezone.now())
    if not credential.subject:
        # save(), not update(): staff see in the history when the account was proved (read
        # again first, so that history row carries what the token replacement wrote).
        credential.refresh_from_db()
        credential.subject = granted.subject
        credential.save(update_fields=["subject"])
    ids = replaced.job.items.values_list("integration_id", flat=True) if replaced.job else []
    record_for_each(
        None,
        "re-consent",
        ids,
        message=f"re-consented by the account owner through link {link.pk}",
    )
    pushed = (
        f"; pushed to {counted(replaced.pushed_to, 'integration')} in bulk job {replaced.job.pk}"
        if (replaced.job)
        else "; no integration to push to"
    )
    _finish(link, credential, outcome, f"{email} granted access again{pushed}.", email)


def _finish(
    link: ConsentLink, credential: Credential, outcome: str, message: str, email: str
) -> None:
    link.credential = credential
    link.used_at = timezone.now()
    link.save(update_fields=["credential", "used_at"])
    record(link, outcome, message, email=email)


def _check(link: ConsentLink, credential: Credential) -> list[RawCalendar]:
    """List the credential's calendars: they are what staff pick from, and the listing is the
    credential's check (a re-consented one leaves the needs-attention queue)."""
    try:
        return list_raw_calendars(credential)
    except PROBLEMS as exc:
        _append(link, f"Listing its calendars failed: {exc}")
        return []


def _create_integrations(link: ConsentLink, credential: Credential) -> None:
    calendars = RawCalendar.objects.filter(credential=credential)
    if link.create_integrations == ConsentLink.Create.NONE:
        return
    if link.create_integrations == ConsentLink.Create.PRIMARY:
        calendars = calendars.filter(is_primary=True)
    created = failed = 0
    for raw_calendar in calendars:
        try:
            outcome = create_integration(raw_calendar)
        except PROBLEMS:
            failed += 1  # recorded by create_integration with its reason
            continue
        created += outcome.created
    note = f"{counted(created, 'integration')} created"
    if failed:
        note += f", {failed} failed (see the action records)"
    _append(link, note + ".")


def _append(link: ConsentLink, note: str) -> None:
    link.refresh_from_db(fields=["outcome_message"])
    record(link, link.outcome, f"{link.outcome_message} {note}", email=link.granted_by_email)
