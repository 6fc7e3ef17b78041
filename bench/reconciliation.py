"""Benchmark of a reconciliation: many remote connections, the sandbox adding latency to each call.

The sandbox runs in a process of its own, seeded directly (its `create` checks every connection
for a duplicate, which 100,000 creates cannot afford), so the peak memory tracemalloc reports is
the portal's alone. The data: `connections` remote connections (1% on API v1), an integration
for each but the 0.5% left as orphans, 0.5% more integrations whose connection is gone (ghosts),
and 1% of connections in error remotely while their integration says active (drift): each
ghost and drift costs one GET, the rest is the listing.

With `--kills N` the run is done the way production does it instead: queued, by a real
`manage.py qcluster` process (one worker), in tasks of BULK_TASK_SECONDS, the whole cluster
killed (SIGKILL) N times along the way and started again. It must finish with exactly the
findings the data set was built to contain (each orphan, ghost and drift once, each correction
one status change); it prints the wall time, how many tasks the run took and the peak resident
memory of the cluster's processes (tracemalloc cannot see into them).
"""

from __future__ import annotations

import argparse
import functools
import multiprocessing
import os
import signal
import subprocess
import sys
import time
import tracemalloc
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

PER_CREDENTIAL = 100
ROOT = Path(__file__).resolve().parent.parent
# The cluster's clocks in the killed runs: a killed task is taken up again after KILLED_RETRY
# seconds (the database broker delivers it again; the sweep queues the run again), so a kill
# costs about that long.
KILLED_SETTINGS = {"BULK_TASK_SECONDS": "20", "Q_TIMEOUT": "45", "Q_RETRY": "60"}


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
    from sandbox.state import SandboxState

    state = SandboxState(api_key="bench-key", sync_delay=0)
    seed_sandbox(state, sizes)
    state.latency = latency
    # Nothing is created or deleted during a benchmark: the sorted listing (which the sandbox
    # makes again for every page, a million connections sorted 4,000 times) is made once.
    state.listing = functools.cache(state.listing)
    server = SandboxServer(state=state).start()
    url_out.put(server.url)
    while True:
        time.sleep(3600)


def seed_sandbox(state: object, sizes: dict[str, int]) -> None:
    """The remote connections, a day old, straight into the sandbox's state (the tests'
    resumed runs use the same data set)."""
    from sandbox.state import SandboxConnection

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
    if args.kills:
        # Read by django-q2 when Django starts: the cluster's queue is this run's alone.
        os.environ.update(KILLED_SETTINGS, Q_CLUSTER_NAME=f"bench-rec-{uuid.uuid4().hex[:8]}")
    try:
        fresh_database(args.db)
        started = time.perf_counter()
        seed_portal(sizes)
        seeded = time.perf_counter() - started
        print(f"... seeded in {seeded:.0f} s", file=sys.stderr, flush=True)
        url = url_out.get(timeout=1200)
        measured = measure_killed(url, sizes, args.kills) if args.kills else measure(url)
        return {"sizes": sizes, "seed_s": round(seeded, 1), **measured}
    finally:
        sandbox.kill()
        sandbox.join()


def measure_killed(url: str, sizes: dict[str, int], kills: int) -> dict:
    """A run queued for a real cluster, killed `kills` times once the run is under way."""
    from django_q.models import Schedule

    from calendars import queue
    from calendars.actions import reconciliation
    from calendars.models import Reconciliation

    # Only the sweep: the daily reconciliation and the refresh would list everything again.
    Schedule.objects.exclude(name=queue.RECONCILIATION_SWEEP_SCHEDULE).delete()
    environment = {**os.environ, "MEETINGBAAS_BASE_URL": url, "MEETINGBAAS_API_KEY": "bench-key"}
    environment["Q_WORKERS"] = "1"
    log = (ROOT / "var" / f"bench-reconciliation-cluster-{os.getpid()}.log").open("ab")
    # Listed share of the connections at which each kill comes: spread over the run.
    marks = [sizes["connections"] * (k + 1) // (kills + 1) for k in range(kills)]
    killed_at: list[dict] = []
    peak_kb = 0
    started = time.perf_counter()
    run = reconciliation.start(acting_user=None)
    cluster = _start_cluster(environment, log)
    try:
        while True:
            time.sleep(1)
            peak_kb = max(peak_kb, _peak_rss_kb(cluster.pid))
            now = Reconciliation.objects.get(pk=run.pk)
            if now.finished_at is not None:
                break
            if marks and now.listed >= marks[0]:
                marks.pop(0)
                os.killpg(cluster.pid, signal.SIGKILL)
                cluster.wait()
                killed_at.append(
                    {"listed": now.listed, "s": round(time.perf_counter() - started, 1)}
                )
                print(f"... killed the cluster at {killed_at[-1]}", file=sys.stderr, flush=True)
                cluster = _start_cluster(environment, log)
            elif int(time.perf_counter() - started) % 60 == 0:
                print(f"... {now.listed:,} listed, step {now.step}", file=sys.stderr, flush=True)
        wall = time.perf_counter() - started
    finally:
        os.killpg(cluster.pid, signal.SIGKILL)
        cluster.wait()
        log.close()
    run = Reconciliation.objects.get(pk=run.pk)
    assert run.succeeded, run.error
    return {
        "wall_s": round(wall, 1),
        "kills": killed_at,
        "tasks": run.tasks,
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "found": {
            "listed": run.listed,
            "orphans": run.orphans,
            "ghosts": run.ghosts,
            "drift": run.drift,
        },
        "as_built": as_built(run, sizes),
    }


def _start_cluster(environment: dict[str, str], log: object) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # a process group of its own: killed whole, as a host dying
    )


def _peak_rss_kb(group: int) -> int:
    """The largest peak resident size (VmHWM) among the processes of a process group."""
    peak = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != group:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except (OSError, ValueError):
            continue  # gone meanwhile
    return peak


def as_built(run: object, sizes: dict[str, int]) -> dict[str, bool]:
    """Whether the run found exactly what the data set holds, each once, and corrected each
    integration once (one status change each for drift and ghosts)."""
    from django.db.models import Count

    from calendars.models import ReconciliationFinding, StatusChange

    n = sizes["connections"]
    expected = {
        "orphan": {remote_id(k) for k in range(n - sizes["orphans"], n)},
        "ghost": {remote_id(k) for k in range(n, n + sizes["ghosts"])},
        "drift": {remote_id(k) for k in range(sizes["v1"], sizes["v1"] + sizes["drift"])},
    }
    result = {}
    for kind, wanted in expected.items():
        found = list(
            ReconciliationFinding.objects.filter(run=run, kind=kind).values_list(
                "remote_id", flat=True
            )
        )
        result[kind] = len(found) == len(wanted) and set(found) == wanted
    changes = StatusChange.objects.values("integration").annotate(n=Count("pk"))
    result["corrected_once"] = (
        changes.count() == sizes["ghosts"] + sizes["drift"] and not changes.filter(n__gt=1).exists()
    )
    result["listed"] = run.listed == n
    return result


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


def render_killed(result: dict, latency: float) -> str:
    found = result["found"]
    kills = ", ".join(f"at {k['listed']:,} listed ({k['s']} s)" for k in result["kills"])
    equal = all(result["as_built"].values())
    return (
        f"\nReconciliation of {result['sizes']['connections']:,} connections by a real cluster "
        f"(one worker, tasks of {KILLED_SETTINGS['BULK_TASK_SECONDS']} s, Q_RETRY "
        f"{KILLED_SETTINGS['Q_RETRY']} s), the sandbox adding {latency * 1000:.0f} ms to every "
        f"call, the cluster killed {len(result['kills'])} times ({kills or 'never'}):\n\n"
        f"- wall time {result['wall_s']} s (after seeding in {result['seed_s']} s), "
        f"{result['tasks']} tasks\n"
        f"- peak resident memory of a cluster process: {result['peak_rss_mb']} MB\n"
        f"- found {found['listed']:,} listed, {found['orphans']:,} orphans, {found['ghosts']:,} "
        f"ghosts, {found['drift']:,} drift: exactly as built, each once: "
        f"{'yes' if equal else 'NO ' + str(result['as_built'])}\n"
    )


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
