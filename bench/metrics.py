"""Benchmark of GET /metrics (issue 25): its time and queries at a million integrations.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_metrics_bench \\
        .venv/bin/python -m bench.metrics --scale 10          # 1,000,000 integrations
    .venv/bin/python -m bench.metrics --scale 0.1             # SQLite, var/bench-metrics.sqlite3
    DATABASE_URL=... .venv/bin/python -m bench.metrics --scale 10 --reuse-data

bench.dataset's customers, credentials, integrations and webhook deliveries at --scale (its
million status changes per scale are left out: /metrics never reads them, and they are most of
the build's time), then what only /metrics reads: four consent links per customer that ended
(used, expired, revoked) and one waiting for one customer in 20, a heartbeat per worker host,
the totals a day of traffic leaves (Meeting BaaS operations by outcome with their histograms,
webhooks, bots) and django-q2 tasks waiting on the database broker. /metrics is scraped
--repeat times with the queue nearly empty (20 tasks), then backed up (--backlog tasks). Prints
median and p95 in ms, and the queries of one scrape. --reuse-data keeps the integrations and
deliveries of the last run and makes the rest again.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import uuid
from datetime import timedelta

from bench.run import ROOT, fresh_database, setup_django

TOKEN = "bench-metrics-token-0123456789abcdef"
NODES = 5
WAITING_EVERY = 20
OPERATIONS = 25  # Meeting BaaS operations the portal calls
OUTCOMES = ("ok", "client_error", "server_error", "timeout")
GROUPS = ("webhooks", "refresh", "meetings", "bots", "bulk", "Cluster heartbeat")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--backlog", type=int, default=10_000)
    parser.add_argument("--reuse-data", action="store_true")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", f"sqlite:///{ROOT}/var/bench-metrics.sqlite3"),
    )
    args = parser.parse_args()
    os.environ["METRICS_TOKEN"] = TOKEN
    os.environ["METRICS_FLUSH_SECONDS"] = "0"  # the bench writes its totals itself

    if args.reuse_data:
        setup_django(args.database_url)
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        _rows_metrics_reads()
        built = None
        print(f"... /metrics' own rows made in {time.perf_counter() - started:.0f} s")
    else:
        fresh_database(args.database_url)
        started = time.perf_counter()
        build(args.scale)
        built = time.perf_counter() - started
    report(args, built)


def build(scale: float) -> None:
    from django.db import connection

    from bench import dataset
    from calendars.models import IntegrationCount, ProblemCount

    sizes = {**dataset.sizes_at(scale), "status_changes": 0}
    apps = dataset._oauth_apps()
    if connection.vendor == "postgresql":
        dataset._build_in_sql(sizes, apps, seed=7)
    else:
        dataset._build_in_python(sizes, apps, seed=7)
    IntegrationCount.recount()
    ProblemCount.recount()
    dataset.analyze()
    _rows_metrics_reads()


def _rows_metrics_reads() -> None:
    """Consent links, heartbeats and totals, made again (--reuse-data keeps only the rest)."""
    from django.db import connection

    from calendars.models import ConsentLink, Heartbeat, MetricTotal

    for model in (ConsentLink, Heartbeat, MetricTotal):
        # Raw: a delete() would write a history row for each link.
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {model._meta.db_table}")
    _consent_links()
    _heartbeats()
    _totals()
    _vacuum(connection, ConsentLink, MetricTotal)


def _vacuum(connection: object, *models: type) -> None:
    """What autovacuum does to a table some time after it filled (visibility map, statistics)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"VACUUM (ANALYZE) {model._meta.db_table}")


def _consent_links() -> None:
    from django.utils import timezone

    from bench import dataset
    from calendars.metrics import names, totals
    from calendars.models import ConsentLink, Customer

    now = timezone.now()
    ended = (
        {"expires_at": now - timedelta(days=3), "used_at": now - timedelta(days=5)},
        {"expires_at": now - timedelta(days=3)},
        {"expires_at": now + timedelta(days=3), "revoked_at": now},
        {"expires_at": now - timedelta(days=30), "used_at": now - timedelta(days=35)},
    )
    # One customer in WAITING_EVERY has a link waiting (a week's worth of links sent).
    customers = list(Customer.objects.values_list("pk", flat=True))
    dataset._insert(
        ConsentLink,
        (
            ConsentLink(kind="connect", token_hash=uuid.uuid4().hex * 2, customer_id=pk, **state)
            for n, pk in enumerate(customers)
            for state in (
                *ended,
                *([{"expires_at": now + timedelta(days=3)}] if n % WAITING_EVERY == 0 else []),
            )
        ),
    )
    # Made around the portal's writers: counted as the migration counts the links it finds.
    links = ConsentLink.objects.all()
    totals.add_now(names.CONSENT_LINKS_MADE, {}, links.count())
    totals.add_now(names.CONSENT_LINKS_USED, {}, links.filter(used_at__isnull=False).count())
    totals.add_now(names.CONSENT_LINKS_REVOKED, {}, links.filter(revoked_at__isnull=False).count())


def _heartbeats() -> None:
    from django.utils import timezone

    from calendars.models import Heartbeat

    Heartbeat.objects.bulk_create(
        Heartbeat(node=f"worker-{n}", seen_at=timezone.now()) for n in range(NODES)
    )


def _totals() -> None:
    """What a day of traffic leaves: every operation with every outcome, every bucket."""
    from calendars.metrics import names, totals

    for n in range(OPERATIONS):
        for outcome in OUTCOMES:
            labels = {"operation": f"GET /v2/operation-{n}/{{id}}", "outcome": outcome}
            totals.add(names.MEETINGBAAS_CALLS, labels, 1000)
        for seconds in (0.01, 0.07, 0.2, 0.4, 0.8, 2.0, 4.0, 8.0, 20.0, 60.0):
            operation = {"operation": f"GET /v2/operation-{n}/{{id}}"}
            totals.observe(names.MEETINGBAAS_CALL_SECONDS, operation, seconds, names.CALL_BUCKETS)
    for version in ("v1", "v2"):
        totals.add(names.WEBHOOKS_RECEIVED, {"api_version": version}, 10_000)
        for outcome in ("applied", "recorded", "stale", "unknown_connection", "failed"):
            totals.add(names.WEBHOOKS_PROCESSED, {"api_version": version, "outcome": outcome})
        for lag in (0.3, 0.7, 1.5, 4.0, 8.0, 20.0, 50.0, 100.0, 200.0, 600.0, 2000.0, 9000.0):
            labels = {"api_version": version}
            totals.observe(names.WEBHOOK_LAG_SECONDS, labels, lag, names.LAG_BUCKETS)
    for action in ("schedule", "schedule_series", "policy", "change", "remove"):
        for outcome in ("succeeded", "failed"):
            totals.add(names.BOT_ATTEMPTS, {"action": action, "outcome": outcome}, 50)
    totals.flush()


def _queue(tasks: int) -> None:
    """`tasks` waiting on the database broker, queued over the last hour, in every group."""
    from django.db import connection
    from django.utils import timezone
    from django_q.conf import Conf
    from django_q.models import OrmQ
    from django_q.signing import SignedPackage

    from calendars.queue import TASKS

    OrmQ.objects.filter(key=Conf.CLUSTER_NAME).delete()
    now = timezone.now()
    rows = []
    for n in range(tasks):
        queued = now - timedelta(seconds=3600 * (tasks - n) / tasks)
        task = {
            "id": uuid.uuid4().hex,
            "name": f"bench-{n}",
            "func": TASKS["heartbeat"],
            "args": (),
            "kwargs": {},
            "group": GROUPS[n % len(GROUPS)],
            "started": queued,
        }
        rows.append(OrmQ(key=Conf.CLUSTER_NAME, payload=SignedPackage.dumps(task), lock=queued))
    OrmQ.objects.bulk_create(rows, batch_size=5000)
    _vacuum(connection, OrmQ)


def report(args: argparse.Namespace, built: float | None) -> None:
    from django.db import connection
    from django.test import Client

    from bench.measure import timed_pages
    from calendars.models import ConsentLink, Integration, MetricTotal, WebhookDelivery

    client = Client(headers={"Authorization": f"Bearer {TOKEN}"})
    rows = {
        "integrations": Integration.objects.count(),
        "webhook deliveries": WebhookDelivery.objects.count(),
        "consent links": ConsentLink.objects.count(),
        "metric totals": MetricTotal.objects.count(),
    }
    lines = [
        f"## GET /metrics ({connection.vendor}, scale {args.scale:g})",
        "",
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.2f}; "
        + ", ".join(f"{n:,} {what}" for what, n in rows.items())
        + (f"; built in {built:.0f} s" if built is not None else "; data reused")
        + ".",
        "",
        "| queue | median ms | p95 ms | queries | bytes |",
        "| --- | --- | --- | --- | --- |",
    ]
    for label, tasks in (("20 tasks waiting", 20), (f"{args.backlog:,} waiting", args.backlog)):
        _queue(tasks)
        timed = timed_pages(client, {"metrics": "/metrics"}, args.repeat)["metrics"]
        size = len(client.get("/metrics").content)
        lines.append(
            f"| {label} | {timed['median_ms']} | {timed['p95_ms']} | {timed['queries']} "
            f"| {size:,} |"
        )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
