"""Making, finding and revoking consent links.

A link's token is 256 random bits in the URL; the database keeps its SHA-256 only, so a copy
of the database opens no link. A plain hash is enough for a random token of this size (no
dictionary to try), and lets the link be found by an indexed equality.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from calendars.meetingbaas.types import Platform
from calendars.models import ConsentLink, Credential, Customer, OAuthApp

# A token in a URL is at most this long: longer input is not looked up at all.
MAX_TOKEN_LENGTH = 64


@dataclass(frozen=True)
class NewLink:
    """A link just made, with the only copy of its URL."""

    link: ConsentLink
    url: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_connect_link(
    customer: Customer,
    oauth_apps: Iterable[OAuthApp],
    *,
    create_integrations: str = ConsentLink.Create.PRIMARY,
    acting_user: AbstractBaseUser | None,
) -> NewLink:
    """A link through which someone at `customer` connects a new calendar account."""
    apps = list(oauth_apps)
    if not apps:
        raise ValueError("A connect link needs at least one OAuth app to grant through.")
    return _create(
        ConsentLink.Kind.CONNECT,
        customer=customer,
        credential=None,
        apps=apps,
        create_integrations=create_integrations,
        acting_user=acting_user,
    )


def create_reconsent_link(
    credential: Credential, *, acting_user: AbstractBaseUser | None
) -> NewLink:
    """A link through which the credential's account grants access again.

    Earlier open links for the credential are revoked: their URLs cannot be shown again, and
    one working link leaves no doubt about which one the customer should use.
    """
    with transaction.atomic():
        for old in waiting_reconsent(credential).select_for_update():
            revoke(old, acting_user=acting_user)
        return _create(
            ConsentLink.Kind.RECONSENT,
            customer=credential.customer,
            credential=credential,
            apps=[credential.oauth_app],
            create_integrations=ConsentLink.Create.NONE,
            acting_user=acting_user,
        )


def create_admin_consent_link(
    customer: Customer,
    app: OAuthApp,
    *,
    credential: Credential | None = None,
    for_link: ConsentLink | None = None,
    acting_user: AbstractBaseUser | None,
) -> NewLink:
    """A link for a customer's Microsoft administrator to approve the app for their
    organisation. Earlier open ones asked for the same link (or credential) are revoked: one
    link leaves no doubt about which one the administrator should use."""
    if app.provider != Platform.MICROSOFT:
        raise ValueError("Admin consent is Microsoft's: the OAuth app must be a Microsoft one.")
    earlier = ConsentLink.objects.filter(
        kind=ConsentLink.Kind.ADMIN_CONSENT,
        customer=customer,
        oauth_apps=app,
        used_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    )
    if for_link is not None:
        earlier = earlier.filter(for_link=for_link)
    elif credential is not None:
        earlier = earlier.filter(credential=credential)
    else:
        earlier = earlier.filter(credential=None, for_link=None)
    with transaction.atomic():
        for old in earlier.select_for_update():
            revoke(old, acting_user=acting_user)
        return _create(
            ConsentLink.Kind.ADMIN_CONSENT,
            customer=customer,
            credential=credential,
            for_link=for_link,
            apps=[app],
            create_integrations=ConsentLink.Create.NONE,
            acting_user=acting_user,
        )


def _create(kind: str, *, apps: list[OAuthApp], acting_user, **fields) -> NewLink:
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        link = ConsentLink.objects.create(
            kind=kind,
            token_hash=token_hash(token),
            expires_at=timezone.now() + timedelta(days=settings.CONSENT_LINK_DAYS),
            created_by=_person(acting_user),
            **fields,
        )
        link.oauth_apps.set(apps)
    url = settings.PORTAL_PUBLIC_URL + reverse("consent-link", args=[token])
    return NewLink(link, url)


def find(token: str) -> ConsentLink | None:
    """The link a URL's token names, usable or not; None for a token that names none."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return (
        ConsentLink.objects.select_related("customer", "credential__oauth_app")
        .filter(token_hash=token_hash(token))
        .first()
    )


def waiting_reconsent(credential: Credential) -> QuerySet[ConsentLink]:
    """The credential's re-consent links still open."""
    return ConsentLink.objects.filter(
        credential=credential,
        kind=ConsentLink.Kind.RECONSENT,
        used_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    )


def waiting_by_credential(credential_ids: Iterable[int]) -> dict[int, ConsentLink]:
    """The newest open re-consent link of each of these credentials, in one query."""
    found = ConsentLink.objects.filter(
        credential_id__in=list(credential_ids),
        kind=ConsentLink.Kind.RECONSENT,
        used_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    ).order_by("created_at")
    return {link.credential_id: link for link in found}


def waiting_count() -> int:
    """Links of any kind still waiting for someone at a customer to use them."""
    return ConsentLink.objects.filter(
        used_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).count()


def revoke(link: ConsentLink, *, acting_user: AbstractBaseUser | None) -> bool:
    """Stop the link working; False when it was already used or revoked."""
    with transaction.atomic():
        link = ConsentLink.objects.select_for_update().get(pk=link.pk)
        if link.used_at or link.revoked_at:
            return False
        link.revoked_at = timezone.now()
        link.revoked_by = _person(acting_user)
        # save(), not update(): the revocation is a history row auditors can read.
        link.save(update_fields=["revoked_at", "revoked_by"])
    return True


def _person(user: AbstractBaseUser | None) -> AbstractBaseUser | None:
    return user if user is not None and user.is_authenticated else None
