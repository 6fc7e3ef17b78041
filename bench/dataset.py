"""Synthetic data at a given scale, written with bulk inserts (history is not recorded for it).

On PostgreSQL the rows are made by the database itself (INSERT ... SELECT over
generate_series), which builds ten times the default scale in minutes; elsewhere, by
bulk_create. Both make the same shapes of rows in the same proportions; the counts the home
page reads (and each integration's class of problem) are recomputed at the end, since bulk
inserts bypass the code that keeps them.
"""

from __future__ import annotations

import random
import uuid
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from calendars.lib.encryption import SealedSecret
from calendars.models import (
    Credential,
    Customer,
    Integration,
    IntegrationCount,
    OAuthApp,
    ProblemCount,
    ProblemDay,
    RawCalendar,
    StatusChange,
    WebhookDelivery,
)

BATCH = 5000
STATUS_MIX = [("active", 85), ("syncing", 5), ("error", 6), ("disconnected", 4)]
# A status change's new status and cause, in proportions a year of history might have.
CHANGE_MIX = [("active", 55), ("error", 25), ("syncing", 12), ("disconnected", 8)]
CAUSE_MIX = [("refresh", 70), ("webhook", 24), ("admin_action", 5), ("created", 1)]
ERRORS = [
    "invalid_grant: Token has been expired or revoked.",
    "invalid_client: The OAuth client was not found.",
    "Meeting BaaS is rate limiting us, retry later",
    "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
]
HEAVY_HISTORY = 1000  # status changes of the first integration


def sizes_at(scale: float) -> dict[str, int]:
    return {
        "customers": int(10_000 * scale),
        "credentials": int(50_000 * scale),
        "integrations": int(100_000 * scale),
        "status_changes": int(1_000_000 * scale),
        "webhooks": int(200_000 * scale),
    }


def build(scale: float, seed: int = 7) -> dict[str, int]:
    """Customers, credentials, integrations, status changes and webhooks at `scale` x default."""
    sizes = sizes_at(scale)
    apps = _oauth_apps()
    if connection.vendor == "postgresql":
        heavy = _build_in_sql(sizes, apps, seed)
    else:
        heavy = _build_in_python(sizes, apps, seed)
    IntegrationCount.recount()
    ProblemCount.recount()
    ProblemDay.recount()
    return {**sizes, "heavy_integration": heavy}


def _oauth_apps() -> list[OAuthApp]:
    return [
        OAuthApp.objects.create(
            provider=p,
            name=f"{p} app {n}",
            client_id=f"client-{p}-{n}",
            client_secret="bench-secret",
        )
        for p in ("google", "microsoft")
        for n in (1, 2)
    ]


def _weighted(mix: list[tuple[str, int]]) -> list[str]:
    return [value for value, weight in mix for _ in range(weight)]


def _build_in_python(sizes: dict[str, int], apps: list[OAuthApp], seed: int) -> int:
    rng = random.Random(seed)
    now = timezone.now()
    with transaction.atomic():
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

    to_statuses, causes = _weighted(CHANGE_MIX), _weighted(CAUSE_MIX)

    def change(n: int) -> StatusChange:
        pk = heavy if n < HEAVY_HISTORY else integration_ids[n % len(integration_ids)][0]
        return StatusChange(
            integration_id=pk,
            from_status="active",
            to_status=rng.choice(to_statuses),
            message=ERRORS[n % len(ERRORS)],
            cause=rng.choice(causes),
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
    return heavy


# The tables the data set fills, in the order it fills them.
TABLES = [
    "calendars_customer",
    "calendars_credential",
    "calendars_rawcalendar",
    "calendars_integration",
    "calendars_statuschange",
    "calendars_webhookdelivery",
]


def _build_in_sql(sizes: dict[str, int], apps: list[OAuthApp], seed: int) -> int:
    token = Credential._meta.get_field("refresh_token").get_db_prep_value(
        SealedSecret.seal("bench-refresh-token"), connection
    )
    with connection.cursor() as cursor:
        # Statistics come from the ANALYZE the benchmark runs when it chooses (analyze()), as
        # autovacuum's would some time after a load: not halfway through it.
        for table in TABLES:
            cursor.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = off)")
        cursor.execute("SELECT setseed(%s)", [1 / (seed + 1)])
        cursor.execute(
            "INSERT INTO calendars_customer (name, external_ref, notes, created_at) "
            "SELECT 'Customer ' || n, 'cust-' || n, '', now() FROM generate_series(0, %s - 1) n",
            [sizes["customers"]],
        )
        cursor.execute(
            "INSERT INTO calendars_credential (customer_id, oauth_app_id, account_email, "
            "refresh_token, created_at, updated_at, last_check_message) "
            "SELECT c.first + n %% %s, (%s::bigint[])[n %% %s + 1], "
            "'user' || n || '@customer' || (n %% %s) || '.example', %s, now(), now(), '' "
            "FROM generate_series(0, %s - 1) n, "
            "(SELECT min(id) AS first FROM calendars_customer) c",
            [
                sizes["customers"],
                [app.pk for app in apps],
                len(apps),
                sizes["customers"],
                token,
                sizes["credentials"],
            ],
        )
        cursor.execute(
            "INSERT INTO calendars_rawcalendar (credential_id, provider_id, name, email, "
            "is_primary, listed_at) "
            "SELECT c.first + n / 2, 'cal-' || n, 'Calendar ' || n, '', false, now() "
            "FROM generate_series(0, %s - 1) n, "
            "(SELECT min(id) AS first FROM calendars_credential) c",
            [sizes["integrations"]],
        )
        status = _pick(STATUS_MIX, "x")
        cursor.execute(
            "INSERT INTO calendars_integration (credential_id, raw_calendar_id, remote_id, "
            "api_version, provider, status, error_message, status_changed_at, status_cause, "
            "remote_status, remote_status_message, sync_status, sync_error, synced_at, "
            "subscription_expires_at, created_at, updated_at, last_refreshed_at) "
            "SELECT r.credential_id, r.id, md5(%s || r.id)::uuid, 'v2', a.provider, "
            f"{status}, CASE WHEN {status} = 'error' "
            "THEN (%s::text[])[1 + floor(y * %s)::int] ELSE '' END, "
            "now() - y * interval '30 days', 'refresh', "
            f"CASE WHEN {status} = 'error' THEN 'error' ELSE 'active' END, '', '', '', "
            "now() - (1 + y * 599) * interval '1 minute', "
            "now() + (1 + x * 167) * interval '1 hour', "
            "now() - (%s - r.n) * interval '1 second', now(), "
            "now() - y * 30 * interval '1 minute' "
            "FROM (SELECT id, credential_id, row_number() OVER (ORDER BY id) AS n, "
            "random() AS x, random() AS y FROM calendars_rawcalendar) r "
            "JOIN calendars_credential c ON c.id = r.credential_id "
            "JOIN calendars_oauthapp a ON a.id = c.oauth_app_id ORDER BY r.id",
            [str(seed), ERRORS, len(ERRORS), sizes["integrations"]],
        )
        cursor.execute(
            "INSERT INTO calendars_statuschange (integration_id, from_status, to_status, "
            "message, changed_at, cause) "
            "SELECT CASE WHEN n < %s THEN i.first ELSE i.first + n %% i.total END, 'active', "
            f"{_pick(CHANGE_MIX, 'x')}, (%s::text[])[1 + n %% %s], "
            f"now() - z * interval '365 days', {_pick(CAUSE_MIX, 'y')} "
            "FROM (SELECT n, random() AS x, random() AS y, random() AS z "
            "FROM generate_series(0, %s - 1) n) g, "
            "(SELECT min(id) AS first, count(*) AS total FROM calendars_integration) i",
            [HEAVY_HISTORY, ERRORS, len(ERRORS), sizes["status_changes"]],
        )
        cursor.execute(
            "INSERT INTO calendars_webhookdelivery (api_version, event, delivery_id, "
            "received_at, repeats, payload, remote_id, integration_id, outcome, error) "
            "SELECT 'v2', 'calendar.event_created', 'msg_bench_' || n, "
            "now() - (%s - n) * interval '1 second', 0, "
            "jsonb_build_object('event', 'calendar.event_created', "
            "'data', jsonb_build_object('calendar_id', i.remote_id::text)), "
            "i.remote_id, i.id, 'recorded', '' "
            "FROM generate_series(0, %s - 1) n, "
            "(SELECT min(id) AS first, count(*) AS total FROM calendars_integration) f "
            "JOIN calendars_integration i ON true WHERE i.id = f.first + n %% f.total",
            [sizes["webhooks"], sizes["webhooks"]],
        )
        cursor.execute("SELECT min(id) FROM calendars_integration")
        return cursor.fetchone()[0]


def _pick(mix: list[tuple[str, int]], var: str) -> str:
    """SQL choosing a value of `mix` by its weight, from `var` (uniform in [0, 1))."""
    total = sum(weight for _, weight in mix)
    cases, reached = [], 0
    for value, weight in mix[:-1]:
        reached += weight
        cases.append(f"WHEN {var} < {reached / total} THEN '{value}'")
    return f"(CASE {' '.join(cases)} ELSE '{mix[-1][0]}' END)"


def analyze() -> None:
    """What autovacuum does some time after a load (VACUUM and ANALYZE), done now."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"ALTER TABLE {table} RESET (autovacuum_enabled)")
            cursor.execute(f"VACUUM (ANALYZE) {table}")


def _insert(model: type, rows) -> None:
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            model.objects.bulk_create(batch)
            batch = []
    if batch:
        model.objects.bulk_create(batch)
