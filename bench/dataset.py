"""Synthetic data at a given scale, written with bulk inserts (history is not recorded for it)."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from calendars.lib.encryption import SealedSecret
from calendars.models import (
    Credential,
    Customer,
    Integration,
    OAuthApp,
    RawCalendar,
    StatusChange,
    WebhookDelivery,
)

BATCH = 5000
STATUS_MIX = [("active", 85), ("syncing", 5), ("error", 6), ("disconnected", 4)]
ERRORS = [
    "invalid_grant: Token has been expired or revoked.",
    "invalid_client: The OAuth client was not found.",
    "Meeting BaaS is rate limiting us, retry later",
    "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
]


def build(scale: float, seed: int = 7) -> dict[str, int]:
    """Customers, credentials, integrations, status changes and webhooks at `scale` x default."""
    rng = random.Random(seed)
    now = timezone.now()
    sizes = {
        "customers": int(10_000 * scale),
        "credentials": int(50_000 * scale),
        "integrations": int(100_000 * scale),
        "status_changes": int(1_000_000 * scale),
        "webhooks": int(200_000 * scale),
    }
    with transaction.atomic():
        apps = [
            OAuthApp.objects.create(
                provider=p,
                name=f"{p} app {n}",
                client_id=f"client-{p}-{n}",
                client_secret="bench-secret",
            )
            for p in ("google", "microsoft")
            for n in (1, 2)
        ]
        Customer.objects.bulk_create(
            (
                Customer(name=f"Customer {n}", external_ref=f"cust-{n}")
                for n in range(sizes["customers"])
            ),
            batch_size=BATCH,
        )
    customer_ids = list(Customer.objects.values_list("pk", flat=True))
    token = SealedSecret.seal(
        "bench-refresh-token"
    )  # one ciphertext: encryption is not what is measured
    _insert(
        Credential,
        (
            Credential(
                customer_id=customer_ids[n % len(customer_ids)],
                oauth_app=apps[n % len(apps)],
                account_email=f"user{n}@customer{n % len(customer_ids)}.example",
                refresh_token=token,
            )
            for n in range(sizes["credentials"])
        ),
    )
    credential_ids = list(Credential.objects.values_list("pk", flat=True))
    _insert(
        RawCalendar,
        (
            RawCalendar(
                credential_id=credential_ids[n // 2],
                provider_id=f"cal-{n}",
                name=f"Calendar {n}",
                listed_at=now,
            )
            for n in range(sizes["integrations"])
        ),
    )
    raw_ids = list(RawCalendar.objects.values_list("pk", "credential_id"))
    provider_of = dict(Credential.objects.values_list("pk", "oauth_app__provider"))
    statuses = [s for s, weight in STATUS_MIX for _ in range(weight)]

    def integration(n: int) -> Integration:
        raw_id, credential_id = raw_ids[n]
        status = rng.choice(statuses)
        return Integration(
            credential_id=credential_id,
            raw_calendar_id=raw_id,
            remote_id=uuid.UUID(int=rng.getrandbits(128), version=4),
            api_version="v2",
            provider=provider_of[credential_id],
            status=status,
            error_message=rng.choice(ERRORS) if status == "error" else "",
            remote_status="error" if status == "error" else "active",
            synced_at=now - timedelta(minutes=rng.randint(1, 600)),
            subscription_expires_at=now + timedelta(hours=rng.randint(1, 24 * 7)),
            last_refreshed_at=now - timedelta(minutes=rng.randint(0, 30)),
            status_changed_at=now - timedelta(minutes=rng.randint(1, 60 * 24 * 30)),
            status_cause="refresh",
        )

    _insert(Integration, (integration(n) for n in range(sizes["integrations"])))
    integration_ids = list(Integration.objects.values_list("pk", "remote_id"))
    heavy = integration_ids[0][0]  # the integration with 1,000 history rows
    year = 365 * 24 * 60

    def change(n: int) -> StatusChange:
        pk = heavy if n < 1000 else integration_ids[n % len(integration_ids)][0]
        return StatusChange(
            integration_id=pk,
            from_status="active",
            to_status="error",
            message=ERRORS[n % len(ERRORS)],
            cause="refresh",
            changed_at=now - timedelta(minutes=rng.randint(0, year)),
        )

    _insert(StatusChange, (change(n) for n in range(sizes["status_changes"])))
    _insert(
        WebhookDelivery,
        (
            WebhookDelivery(
                api_version="v2",
                event="calendar.event_created",
                delivery_id=f"msg_bench_{n}",
                payload={
                    "event": "calendar.event_created",
                    "data": {"calendar_id": str(integration_ids[n % len(integration_ids)][1])},
                },
                remote_id=integration_ids[n % len(integration_ids)][1],
                integration_id=integration_ids[n % len(integration_ids)][0],
                outcome="recorded",
            )
            for n in range(sizes["webhooks"])
        ),
    )
    return {**sizes, "heavy_integration": heavy}


def _insert(model: type, rows) -> None:
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            model.objects.bulk_create(batch)
            batch = []
    if batch:
        model.objects.bulk_create(batch)
