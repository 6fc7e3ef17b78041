"""What a production configuration lacks, warned at every start (`migrate`, `qcluster`, `check`).

Settings refuse what cannot run (portal/settings.py); these are what runs but breaks a part of
the portal for its users. They say nothing with DEBUG on: a debug run has its own defaults.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "[::1]", "::1"}
README = "README.md, Running in production"


@register(Tags.security)
def production_settings(**kwargs: object) -> list[CheckMessage]:
    if settings.DEBUG:
        return []
    return [
        Warning(message, hint=f"{hint} See {README}.", id=f"calendars.W{number:03}")
        for number, lacks, message, hint in _lacks()
        if lacks
    ]


def _lacks() -> list[tuple[int, bool, str, str]]:
    """Every check as (its number, whether it fails, what breaks, what to set)."""
    public = urlsplit(settings.PORTAL_PUBLIC_URL)
    return [
        (
            1,
            settings.MEETINGBAAS_WEBHOOKS_V2 and not settings.MEETINGBAAS_WEBHOOK_SECRET,
            "MEETINGBAAS_WEBHOOK_SECRET is not set: every v2 webhook is refused.",
            "Set it to the whsec_ secret of the webhook endpoint in the Meeting BaaS dashboard.",
        ),
        (
            2,
            not settings.PORTAL_PUBLIC_URL,
            "PORTAL_PUBLIC_URL is not set: no consent link can be made.",
            "Set it to the portal's public address, e.g. https://portal.example.com.",
        ),
        (
            3,
            bool(settings.PORTAL_PUBLIC_URL) and public.scheme != "https",
            "PORTAL_PUBLIC_URL is not an https:// address: consent links and the OAuth "
            "redirect URI would be redirected or refused.",
            "Set it to the https:// address the proxy serves.",
        ),
        (
            4,
            set(settings.ALLOWED_HOSTS) <= LOOPBACK_HOSTS,
            "ALLOWED_HOSTS names this machine only: every request through the proxy is "
            "refused (400).",
            "Set it to the portal's public host name.",
        ),
        (
            5,
            settings.PORTAL_COMPANY_NAME == "Our company",
            "PORTAL_COMPANY_NAME is not set: consent pages and e-mails name 'Our company'.",
            "Set it to the name your customers know you by.",
        ),
        (
            6,
            settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3",
            "The portal runs on SQLite (ALLOW_SQLITE_IN_PRODUCTION): one host's processes "
            "at most, and no database outside this machine.",
            "Set DATABASE_URL to a PostgreSQL database.",
        ),
        (
            7,
            settings.USE_SANDBOX,
            "USE_SANDBOX is on: the portal talks to the sandbox, not Meeting BaaS.",
            "Right for staging only.",
        ),
        (
            8,
            settings.SECURE_SSL_REDIRECT and not settings.SECURE_PROXY_SSL_HEADER,
            "TRUST_X_FORWARDED_PROTO is off: behind a TLS-terminating proxy every request is "
            "redirected to https:// again, in a loop.",
            "Set it to true behind a proxy that sets X-Forwarded-Proto (and strips a client's); "
            "leave it off only where gunicorn itself serves TLS.",
        ),
    ]
