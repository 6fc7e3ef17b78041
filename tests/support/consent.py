"""Driving a consent link as the customer's person would, through the sandbox's fake Google
and Microsoft over HTTP: the portal's pages with a Django test client (no admin session),
the provider's consent screen with requests."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import requests
from django.test import Client

from calendars.actions.integrations import create_integration
from calendars.actions.refresh import refresh_integration
from calendars.models import ConsentLink, Credential, Customer, Integration, OAuthApp, RawCalendar

if TYPE_CHECKING:  # tests.conftest imports this module for its consent fixtures
    from tests.conftest import Sandbox

GOOGLE_SCOPES = (
    "https://www.googleapis.com/auth/calendar.readonly",
    "https://www.googleapis.com/auth/calendar.events.readonly",
)


def point_providers_at(settings: object, sandbox: Sandbox) -> None:
    """The portal's provider settings aimed at this test's sandbox."""
    base = f"{sandbox.url}/oauth"
    settings.PORTAL_PUBLIC_URL = "http://testserver"
    settings.GOOGLE_OAUTH_AUTHORIZE_URL = f"{base}/google/authorize"
    settings.GOOGLE_OAUTH_TOKEN_URL = f"{base}/google/token"
    settings.GOOGLE_OAUTH_USERINFO_URL = f"{base}/google/userinfo"
    settings.GOOGLE_OAUTH_JWKS_URL = f"{base}/google/certs"
    settings.MICROSOFT_OAUTH_AUTHORIZE_URL = f"{base}/microsoft/{{tenant}}/oauth2/v2.0/authorize"
    settings.MICROSOFT_OAUTH_TOKEN_URL = f"{base}/microsoft/{{tenant}}/oauth2/v2.0/token"
    settings.MICROSOFT_OAUTH_USERINFO_URL = f"{base}/microsoft/v1.0/me"
    settings.MICROSOFT_OAUTH_JWKS_URL = f"{base}/microsoft/{{tenant}}/discovery/v2.0/keys"
    settings.MICROSOFT_OAUTH_ADMIN_CONSENT_URL = f"{base}/microsoft/{{tenant}}/v2.0/adminconsent"


def token_of(url: str) -> str:
    return re.fullmatch(r"http://testserver/connect/([^/]+)/", url).group(1)


@dataclass
class Person:
    """Someone at the customer, in a browser of their own (a client with no admin login)."""

    client: Client

    def open(self, token: str):
        return self.client.get(f"/connect/{token}/")

    def start(self, token: str, provider: str = "google", **query: str) -> str:
        """Click "Continue with …": the provider's consent URL the portal sent the person to."""
        response = self.client.get(f"/connect/{token}/{provider}/", query)
        assert response.status_code == 302, response.content[:500]
        return response["Location"]

    def consent(
        self,
        authorize_url: str,
        *,
        email: str = "alice@example.com",
        untick: tuple[str, ...] = (),
        decision: str = "allow",
        tenant: str = "",
        spoil: str = "valid",
    ) -> str:
        """Answer the provider's consent screen; the callback URL it redirects to. `tenant`
        (Microsoft) signs in with an account of that tenant, `spoil` spoils the ID token
        (sandbox/oauth.py's ID_TOKEN_VARIANTS): the attacks the sandbox can play."""
        params = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
        requested = params.pop("scope")
        form = {
            **params,  # what the consent page carries in hidden fields
            "requested_scope": requested,
            "scope": [s for s in requested.split() if s not in untick],
            "email": email,
            "decision": decision,
            "tenant_id": tenant,
            "id_token": spoil,
        }
        answer = requests.post(
            authorize_url.split("?")[0], data=form, allow_redirects=False, timeout=5
        )
        assert answer.status_code == 302, answer.text[:500]
        return answer.headers["Location"]

    def approve_as_admin(self, token: str, *, decision: str = "allow", tenant: str = "") -> str:
        """As a tenant's administrator: open the admin consent link, go to Microsoft's admin
        consent page and answer it; the callback URL it redirects to."""
        consent_url = self.start(token, "microsoft")
        params = {k: v[0] for k, v in parse_qs(urlsplit(consent_url).query).items()}
        form = {**params, "email": "admin@contoso.example", "decision": decision}
        form["tenant_id"] = tenant
        answer = requests.post(
            consent_url.split("?")[0], data=form, allow_redirects=False, timeout=5
        )
        assert answer.status_code == 302, answer.text[:500]
        return answer.headers["Location"]

    def come_back(self, callback_url: str):
        parts = urlsplit(callback_url)
        assert parts.path == "/connect/callback/", callback_url
        return self.client.get(parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()})

    def grant(self, token: str, provider: str = "google", **consent: object):
        """The whole round trip: start, consent, come back."""
        return self.come_back(self.consent(self.start(token, provider), **consent))


def reloaded(link: ConsentLink) -> ConsentLink:
    link.refresh_from_db()
    return link


def alices_integration(sandbox: Sandbox, **remote: object) -> Integration:
    """Acme Corp's Alice connected through the sandbox's Google, then her connection put in the
    state `remote` gives (status, status_message) and refreshed: what support finds."""
    app = OAuthApp.objects.create(
        provider="google", name="Acme Google", client_id="c.apps", client_secret="GOCSPX-x"
    )
    credential = Credential.objects.create(
        customer=Customer.objects.create(name="Acme Corp"),
        oauth_app=app,
        account_email="alice@example.com",
        refresh_token="1//old:alice@example.com",
    )
    raw = RawCalendar.objects.create(
        credential=credential,
        provider_id="alice@example.com",
        name="Alice",
        listed_at="2026-01-01T00:00Z",
    )
    integration = create_integration(raw).integration
    sandbox.force(integration.remote_id, **remote)
    # The connection's own webhooks (created, updated) land first, so that none of them can
    # overwrite the state the refresh then reads.
    sandbox.server.httpd.sender.drain()
    return refresh_integration(integration.pk)
