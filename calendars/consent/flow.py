"""The OAuth 2.0 authorization-code flow with PKCE (S256), through Authlib's requests client.

`begin` makes the provider URL a person is sent to, with a `state`, a PKCE verifier and an
OpenID Connect `nonce` that the caller keeps in the person's session; `finish` exchanges the
code the provider sent back, validates the ID token that proves which account granted
(identity.py) and asks for its e-mail address. The redirect URI is always PORTAL_PUBLIC_URL's,
never the request's.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from django.conf import settings
from django.urls import reverse
from django.views.decorators.debug import sensitive_variables

from calendars.consent.identity import IdentityError, fetch_keys, subject_of
from calendars.consent.providers import provider_of
from calendars.lib.encryption import SecretUnreadable
from calendars.models import OAuthApp

# Longest provider error text kept (it is shown to staff, and bounded before it is stored).
MAX_ERROR = 300


class FlowError(Exception):
    """The provider refused or could not be reached; the message is for staff."""


@dataclass(frozen=True)
class Started:
    url: str
    state: str
    code_verifier: str = field(repr=False)
    nonce: str = field(repr=False)


@dataclass(frozen=True)
class Granted:
    email: str
    # The account that granted, as its ID token proves it (identity.py).
    subject: str
    refresh_token: str = field(repr=False)
    scopes: frozenset[str]


def callback_url() -> str:
    return settings.PORTAL_PUBLIC_URL + reverse("consent-callback")


def begin(app: OAuthApp, *, login_hint: str = "") -> Started:
    provider = provider_of(app)
    client = OAuth2Session(
        client_id=app.client_id,
        scope=provider.scopes(app),
        redirect_uri=callback_url(),
        code_challenge_method="S256",
    )
    verifier = generate_token(64)
    nonce = generate_token(32)
    params = {**provider.authorize_params(), "nonce": nonce}
    if login_hint:
        params["login_hint"] = login_hint
    url, state = client.create_authorization_url(
        provider.authorize_url(app), code_verifier=verifier, **params
    )
    return Started(url, state, verifier, nonce)


def state_matches(expected: str, given: str) -> bool:
    return bool(expected) and secrets.compare_digest(expected.encode(), given.encode())


@sensitive_variables("client", "token", "code", "code_verifier", "nonce")
def finish(app: OAuthApp, *, code: str, code_verifier: str, nonce: str) -> Granted:
    """Exchange the code for tokens, then prove and read who granted; FlowError when that
    fails."""
    provider = provider_of(app)
    try:
        client = OAuth2Session(
            client_id=app.client_id,
            client_secret=app.client_secret.reveal(),
            redirect_uri=callback_url(),
            code_challenge_method="S256",
        )
    except SecretUnreadable as exc:
        raise FlowError(f"The OAuth app's client secret cannot be read: {exc}") from exc
    try:
        token = client.fetch_token(
            provider.token_url(app),
            grant_type="authorization_code",
            code=code,
            code_verifier=code_verifier,
            timeout=settings.OAUTH_TIMEOUT,
        )
        keys = fetch_keys(provider.jwks_url(app))
        subject = subject_of(app, token.get("id_token"), nonce=nonce, keys=keys)
        answer = client.get(provider.userinfo_url(), timeout=settings.OAUTH_TIMEOUT)
        answer.raise_for_status()
        userinfo = answer.json()
    except IdentityError as exc:
        raise FlowError(_bounded(str(exc))) from exc
    except AuthlibBaseError as exc:
        raise FlowError(_bounded(f"{exc.error}: {exc.description or ''}".rstrip(": "))) from exc
    except requests.HTTPError as exc:
        raise FlowError(
            _bounded(f"{provider.label} answered HTTP {exc.response.status_code}")
        ) from exc
    except (requests.RequestException, ValueError) as exc:
        # A timeout, a refused connection, or an answer that is not JSON: no token text in it.
        raise FlowError(f"{provider.label} could not be reached: {type(exc).__name__}") from exc
    refresh_token = token.get("refresh_token")
    if not refresh_token:
        raise FlowError(f"{provider.label} returned no refresh token.")
    email = provider.email_from(userinfo) if isinstance(userinfo, dict) else ""
    if not email:
        raise FlowError(f"{provider.label} did not say which account granted access.")
    granted = token.get("scope")
    # RFC 6749 5.1: a token answer without "scope" grants what was asked.
    scopes = granted.split() if isinstance(granted, str) else provider.scopes(app)
    return Granted(
        email=email, subject=subject, refresh_token=refresh_token, scopes=frozenset(scopes)
    )


def _bounded(text: str) -> str:
    return text[:MAX_ERROR]
