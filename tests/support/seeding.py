"""Many integrations at once: connections made inside the sandbox and the rows pointing at them."""

from __future__ import annotations

from django.utils import timezone

from calendars.models import Credential, Customer, Integration, OAuthApp, RawCalendar
from sandbox.accounts import account_for
from sandbox.state import SandboxState


def integrations_in_sandbox(
    state: SandboxState, customer: Customer, app: OAuthApp, count: int, *, status: str
) -> list[Integration]:
    """`count` v2 Google integrations, one account each, with no API round trip."""
    now = timezone.now()
    emails = [f"user{n}@example.com" for n in range(count)]
    credentials = Credential.objects.bulk_create(
        Credential(
            customer=customer, oauth_app=app, account_email=email, refresh_token=f"rt:{email}"
        )
        for email in emails
    )
    raws = RawCalendar.objects.bulk_create(
        RawCalendar(credential=c, provider_id=c.account_email, listed_at=now) for c in credentials
    )
    integrations = []
    for credential, raw in zip(credentials, raws, strict=True):
        remote = state.create(
            "v2", account_for("google", "secret", f"rt:{raw.provider_id}"), raw.provider_id
        )
        integrations.append(
            Integration(
                credential=credential,
                raw_calendar=raw,
                remote_id=remote.id,
                api_version="v2",
                provider="google",
                status=status,
            )
        )
    return Integration.objects.bulk_create(integrations)
