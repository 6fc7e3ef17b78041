"""Benchmark of a reconciliation: many remote connections, the sandbox adding latency to each call.

The sandbox runs in a process of its own, seeded directly (its `create` checks every connection
for a duplicate, which 100,000 creates cannot afford), so the peak memory tracemalloc reports is
the portal's alone. The data: `connections` remote connections (1% on API v1), an integration
for each but the 0.5% left as orphans, 0.5% more integrations whose connection is gone (ghosts),
and 1% of connections in error remotely while their integration says active (drift): each
ghost and drift costs one GET, the rest is the listing.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
import tracemalloc
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

PER_CREDENTIAL = 100


def plan(connections: int) -> dict[str, int]:
    return {
        "connections": connections,
        "v1": connections // 100,
        "orphans": connections // 200,
        "ghosts": connections // 200,
        "drift": connections // 100,
    }


def remote_id(n: int) -> uuid.UUID:
    return uuid.UUID(int=(0xBE1C << 112) + n)


def account(n: int) -> str:
    return f"user{n // PER_CREDENTIAL}@bench.example"


def calendar(n: int) -> str:
    return f"calendar{n}@bench.example"


def is_v1(n: int, sizes: dict[str, int]) -> bool:
    return n < sizes["v1"]


def is_orphan(n: int, sizes: dict[str, int]) -> bool:
    return sizes["connections"] - sizes["orphans"] <= n


def drifted(n: int, sizes: dict[str, int]) -> bool:
    return sizes["v1"] <= n < sizes["v1"] + sizes["drift"]


def serve_sandbox(sizes: dict[str, int], latency: float, url_out: multiprocessing.Queue) -> None:
    """The sandbox process: seed the connections, then serve until killed."""
    from sandbox import SandboxServer
    from sandbox.state import SandboxConnection, SandboxState

    state = SandboxState(api_key="bench-key", sync_delay=0)
    created = datetime.now(UTC) - timedelta(days=1)
    for n in range(sizes["connections"]):
        state.connections[remote_id(n)] = SandboxConnection(
            id=remote_id(n),
            api_version="v1" if is_v1(n, sizes) else "v2",
            platform="google",
            account_email=account(n),
            raw_calendar_id=calendar(n),
            calendar_name=calendar(n),
            created_at=created + timedelta(microseconds=n),
            sync_due_at=created,
            synced_at=created,
            sync_status="success",
            updated_at=created,
            status="error" if drifted(n, sizes) else "active",
            status_message="Calendar API quota exceeded" if drifted(n, sizes) else None,
        )
    state.latency = latency
    server = SandboxServer(state=state).start()
    url_out.put(server.url)
    while True:
        time.sleep(3600)


def seed_portal(sizes: dict[str, int]) -> None:
    """Credentials, raw calendars and integrations for every connection but the orphans, and
    the ghosts' integrations."""
    from django.utils import timezone

    from calendars.models import Credential, Customer, Integration, OAuthApp, RawCalendar

    customer = Customer.objects.create(name="Bench")
    app = OAuthApp.objects.create(provider="google", name="Bench", client_id="c", client_secret="s")
    total = sizes["connections"] + sizes["ghosts"]
    credentials = Credential.objects.bulk_create(
        Credential(customer=customer, oauth_app=app, account_email=account(n), refresh_token="rt")
        for n in range(0, total + PER_CREDENTIAL, PER_CREDENTIAL)
    )
    now = timezone.now()
    held = [n for n in range(total) if not is_orphan(n, sizes) or n >= sizes["connections"]]
    for start in range(0, len(held), 5000):
        chunk = held[start : start + 5000]
        raws = RawCalendar.objects.bulk_create(
            RawCalendar(
                credential=credentials[n // PER_CREDENTIAL], provider_id=calendar(n), listed_at=now
            )
            for n in chunk
        )
        Integration.objects.bulk_create(
            Integration(
                credential=raw.credential,
                raw_calendar=raw,
                remote_id=remote_id(n),
                api_version="v1" if is_v1(n, sizes) else "v2",
                provider="google",
                status="active",
                last_refreshed_at=now,
            )
            for n, raw in zip(chunk, raws, strict=True)
        )


def child(args: argparse.Namespace, fresh_database: Callable[[str], None]) -> dict:
    """One measured reconciliation (run by bench/run.py in a process of its own)."""
    sizes = plan(args.connections)
    context = multiprocessing.get_context("fork")  # before Django: the sandbox needs none of it
    url_out = context.Queue()
    sandbox = context.Process(target=serve_sandbox, args=(sizes, args.latency, url_out))
    sandbox.start()
    try:
        fresh_database(args.db)
        started = time.perf_counter()
        seed_portal(sizes)
        seeded = time.perf_counter() - started
        return {"sizes": sizes, "seed_s": round(seeded, 1), **measure(url_out.get(timeout=600))}
    finally:
        sandbox.kill()
        sandbox.join()


def measure(url: str) -> dict:
    from django.test import override_settings

    from calendars import meetingbaas
    from calendars.actions.reconciliation import reconcile_now

    calls = 0

    def count(response: object, *args: object, **kwargs: object) -> None:
        nonlocal calls
        calls += 1

    # DEBUG off, as in production: Django would otherwise keep every query's SQL.
    with override_settings(MEETINGBAAS_BASE_URL=url, MEETINGBAAS_API_KEY="bench-key", DEBUG=False):
        meetingbaas.client().transport.session.hooks["response"].append(count)
        tracemalloc.start()
        started = time.perf_counter()
        run = reconcile_now()
        wall = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert run.succeeded, run.error
    return {
        "wall_s": round(wall, 1),
        "api_calls": calls,
        "peak_mb": round(peak / 1e6, 1),
        "found": {
            "listed": run.listed,
            "orphans": run.orphans,
            "ghosts": run.ghosts,
            "drift": run.drift,
        },
    }


def render(small: dict, large: dict, latency: float) -> str:
    lines = [
        "",
        f"Reconciliation, the sandbox adding {latency * 1000:.0f} ms to every API call (1% of "
        "connections on v1; 0.5% orphans, 0.5% ghosts and 1% drift, each ghost and drift one GET):",
        "",
        "| remote connections | wall s | API calls | peak memory (tracemalloc) | found |",
        "| ---: | ---: | ---: | ---: | --- |",
    ]
    for result in (small, large):
        found = result["found"]
        lines.append(
            f"| {result['sizes']['connections']:,} | {result['wall_s']} | {result['api_calls']:,} "
            f"| {result['peak_mb']} MB | {found['orphans']:,} orphans, {found['ghosts']:,} "
            f"ghosts, {found['drift']:,} drift |"
        )
    growth = large["peak_mb"] - small["peak_mb"]
    lines.append(
        f"\nPeak memory grows by {growth:.1f} MB for "
        f"{large['sizes']['connections'] - small['sizes']['connections']:,} more connections: "
        "the ids seen (one int each) and one page, nothing per connection beyond that."
    )
    return "\n".join(lines) + "\n"
