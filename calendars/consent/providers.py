"""What the portal asks Google and Microsoft for, and what a grant must include.

Scopes are the setup guide's: reading calendars and their events, offline (a refresh token),
and who the person is (openid, email) so a grant can be matched to an account; Microsoft also
`profile`, without which its ID token carries no object id (`oid`).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from calendars.meetingbaas.types import Platform
from calendars.models import OAuthApp

GOOGLE_CALENDAR_SCOPES = (
    "https://www.googleapis.com/auth/calendar.readonly",
    "https://www.googleapis.com/auth/calendar.events.readonly",
)
MICROSOFT_GRAPH = "https://graph.microsoft.com/"
IDENTITY_SCOPES = ("openid", "email")


@dataclass(frozen=True)
class Provider:
    platform: Platform
    label: str

    def calendar_scopes(self, app: OAuthApp) -> tuple[str, ...]:
        """The scopes the calendar sync cannot work without."""
        if self.platform == Platform.GOOGLE:
            return GOOGLE_CALENDAR_SCOPES
        if app.needs_calendar_write:
            return ("Calendars.Read", "Calendars.ReadWrite")
        return ("Calendars.Read",)

    def scopes(self, app: OAuthApp) -> list[str]:
        if self.platform == Platform.GOOGLE:
            return [*self.calendar_scopes(app), *IDENTITY_SCOPES]
        return ["offline_access", *self.calendar_scopes(app), *IDENTITY_SCOPES, "profile"]

    def authorize_params(self) -> dict[str, str]:
        if self.platform == Platform.GOOGLE:
            # Without prompt=consent, a second grant returns no refresh token.
            return {
                "access_type": "offline",
                "prompt": "consent",
                "include_granted_scopes": "true",
            }
        return {"prompt": "consent"}

    def authorize_url(self, app: OAuthApp) -> str:
        if self.platform == Platform.GOOGLE:
            return settings.GOOGLE_OAUTH_AUTHORIZE_URL
        return settings.MICROSOFT_OAUTH_AUTHORIZE_URL.format(tenant=app.tenant or "common")

    def token_url(self, app: OAuthApp) -> str:
        if self.platform == Platform.GOOGLE:
            return settings.GOOGLE_OAUTH_TOKEN_URL
        return settings.MICROSOFT_OAUTH_TOKEN_URL.format(tenant=app.tenant or "common")

    def jwks_url(self, app: OAuthApp) -> str:
        """Where the keys that sign the provider's ID tokens are published."""
        if self.platform == Platform.GOOGLE:
            return settings.GOOGLE_OAUTH_JWKS_URL
        return settings.MICROSOFT_OAUTH_JWKS_URL.format(tenant=app.tenant or "common")

    def admin_consent_url(self, tenant: str) -> str:
        """Microsoft's page where a tenant's administrator approves the app for everyone."""
        return settings.MICROSOFT_OAUTH_ADMIN_CONSENT_URL.format(tenant=tenant)

    def admin_consent_scopes(self, app: OAuthApp) -> list[str]:
        """The permissions an administrator approves: the sign-in's, Graph's named in full (the
        admin consent endpoint takes no bare "Calendars.Read")."""
        return [
            scope
            if scope in (*IDENTITY_SCOPES, "profile", "offline_access")
            else MICROSOFT_GRAPH + scope
            for scope in self.scopes(app)
        ]

    def userinfo_url(self) -> str:
        if self.platform == Platform.GOOGLE:
            return settings.GOOGLE_OAUTH_USERINFO_URL
        return settings.MICROSOFT_OAUTH_USERINFO_URL

    def missing_scopes(self, app: OAuthApp, granted: frozenset[str]) -> list[str]:
        """The calendar scopes a grant lacks (the person unticked them), as asked for."""
        have = {_short(scope) for scope in granted}
        return [scope for scope in self.calendar_scopes(app) if _short(scope) not in have]

    @staticmethod
    def email_from(userinfo: dict) -> str:
        """The account's address: OpenID's `email` (unless the provider says it is unverified),
        or Graph's `mail` / `userPrincipalName`."""
        if userinfo.get("email_verified") is False:
            return ""
        for key in ("email", "mail", "userPrincipalName"):
            value = userinfo.get(key)
            if isinstance(value, str) and value:
                return value
        return ""


def _short(scope: str) -> str:
    # Microsoft may answer "https://graph.microsoft.com/Calendars.Read" for "Calendars.Read".
    return scope.removeprefix(MICROSOFT_GRAPH).casefold()


PROVIDERS = {
    Platform.GOOGLE.value: Provider(Platform.GOOGLE, "Google"),
    Platform.MICROSOFT.value: Provider(Platform.MICROSOFT, "Microsoft"),
}


def provider_of(app: OAuthApp) -> Provider:
    return PROVIDERS[app.provider]
