"""Integrations in a given state written straight to the database, for pages that only read.

The dashboard never calls Meeting BaaS, so its tests need rows, not remote connections.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.utils import timezone

from calendars.models import Credential, Customer, Integration, OAuthApp, RawCalendar


def broken_integrations(
    customer: Customer,
    app: OAuthApp,
    count: int,
    *,
    message: str,
    status: str = "error",
    broken_for: timedelta = timedelta(hours=1),
    cause: str = "refresh",
) -> list[Integration]:
    """`count` integrations of `customer`, one account each, in `status` for `broken_for`."""
    now = timezone.now()
    integrations = []
    for _ in range(count):
        email = f"{uuid.uuid4().hex[:10]}@{customer.external_ref or 'example'}.com"
        credential = Credential.objects.create(
            customer=customer, oauth_app=app, account_email=email, refresh_token=f"rt:{email}"
        )
        raw = RawCalendar.objects.create(
            credential=credential, provider_id=email, name=f"Cal {email}", listed_at=now
        )
        integrations.append(
            Integration.objects.create(
                credential=credential,
                raw_calendar=raw,
                remote_id=uuid.uuid4(),
                api_version="v2",
                provider=app.provider,
                status=status,
                status_cause=cause,
                error_message=message,
                status_changed_at=now - broken_for,
                last_refreshed_at=now,
            )
        )
    return integrations
