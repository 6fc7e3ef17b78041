"""Which account granted: the provider's ID token, validated, and the subject it proves.

The e-mail a provider reports is a label, not a proof: Microsoft's is set by a tenant's
administrator and never verified (the "nOAuth" attack), so a grant is identified by its
subject: Google's `sub` (with `email_verified`), Microsoft's tenant and object ids (`tid`,
`oid`). The token is checked as OpenID Connect Core 3.1.3.7 says: signed (RS256 only) by a key
the provider publishes, by the issuer the provider names, for this app, unexpired, and carrying
the nonce the person's sign-in was started with.
"""

from __future__ import annotations

import re

import requests
from authlib.jose import JsonWebKey, JsonWebToken
from authlib.jose.errors import JoseError
from authlib.oidc.core import CodeIDToken
from django.conf import settings
from joserfc.errors import JoseError as ClaimError

from calendars.meetingbaas.types import Platform
from calendars.models import OAuthApp

GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")
# A Microsoft token is issued by the tenant the person signed in to; for the multi-tenant
# endpoints (common, organizations) that is any tenant, so the issuer is checked against the
# token's own `tid`.
MICROSOFT_ISSUER = "https://login.microsoftonline.com/{tid}/v2.0"
GUID = re.compile(r"^[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$")
# Seconds of clock difference with the provider tolerated on `exp` and `iat`.
LEEWAY = 120
# Longest subject kept (Credential.subject's length).
MAX_SUBJECT = 255
# RS256 only: a token may not choose a weaker algorithm (or "none") for itself.
ID_TOKENS = JsonWebToken(["RS256"])


class IdentityError(Exception):
    """The ID token proves no account; the message is for staff and names no token."""


def subject_of(app: OAuthApp, id_token: object, *, nonce: str, keys: dict) -> str:
    """The account an ID token proves, `sub` for Google and `tid/oid` for Microsoft."""
    if not isinstance(id_token, str) or not id_token:
        raise IdentityError("The provider returned no ID token.")
    if not nonce:
        raise IdentityError("The sign-in was started without a nonce.")
    try:
        claims = ID_TOKENS.decode(
            id_token,
            JsonWebKey.import_key_set(keys),
            claims_cls=CodeIDToken,
            claims_options={"aud": {"essential": True, "value": app.client_id}},
            claims_params={"nonce": nonce, "client_id": app.client_id},
        )
        claims.validate(leeway=LEEWAY)
    except (JoseError, ClaimError, ValueError, TypeError, KeyError) as exc:
        raise IdentityError(f"The ID token was refused: {_reason(exc)}") from exc
    if app.provider == Platform.GOOGLE:
        return _google_subject(claims)
    return _microsoft_subject(app, claims)


def fetch_keys(url: str) -> dict:
    """The provider's JSON Web Key Set (its errors are the caller's to word)."""
    answer = requests.get(url, timeout=settings.OAUTH_TIMEOUT)
    answer.raise_for_status()
    keys = answer.json()
    if not isinstance(keys, dict) or not isinstance(keys.get("keys"), list):
        raise ValueError("not a JSON Web Key Set")
    return keys


def _google_subject(claims: dict) -> str:
    if claims.get("iss") not in GOOGLE_ISSUERS:
        raise IdentityError("The ID token was refused: it was not issued by Google.")
    if claims.get("email_verified") is not True:
        raise IdentityError("Google says the account's e-mail address is not verified.")
    return _bounded(claims.get("sub"))


def _microsoft_subject(app: OAuthApp, claims: dict) -> str:
    tid, oid = claims.get("tid"), claims.get("oid")
    if not (isinstance(tid, str) and GUID.match(tid) and isinstance(oid, str) and GUID.match(oid)):
        raise IdentityError("The ID token was refused: no tenant id (tid) and object id (oid).")
    if claims.get("iss") != MICROSOFT_ISSUER.format(tid=tid):
        raise IdentityError("The ID token was refused: its issuer is not its own tenant's.")
    # A single-tenant app signs in its own tenant's accounts only.
    if GUID.match(app.tenant.lower()) and tid != app.tenant.lower():
        raise IdentityError("The ID token was refused: it is from another tenant than the app's.")
    return f"{tid}/{oid}"


def _bounded(subject: object) -> str:
    if not isinstance(subject, str) or not subject or len(subject) > MAX_SUBJECT:
        raise IdentityError("The ID token was refused: its subject (sub) is missing or too long.")
    return subject


def _reason(exc: Exception) -> str:
    # The library's words name the claim or the check (never the token), bounded all the same.
    return (str(exc) or type(exc).__name__)[:120]
