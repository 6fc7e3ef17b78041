"""Many integrations at once: connections made inside the sandbox and the rows pointing at them."""

from __future__ import annotations

import uuid

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


def integration_of(app: OAuthApp, customer_name: str, email: str) -> Integration:
    """A live v2 integration of its own customer, credential and calendar named `email`."""
    credential = Credential.objects.create(
        customer=Customer.objects.create(name=customer_name),
        oauth_app=app,
        account_email=email,
        refresh_token="1//refresh",
    )
    raw = RawCalendar.objects.create(
        credential=credential, provider_id=email, name=email, listed_at=timezone.now()
    )
    return Integration.objects.create(
        credential=credential,
        raw_calendar=raw,
        remote_id=uuid.uuid4(),
        api_version="v2",
        provider="google",
    )
