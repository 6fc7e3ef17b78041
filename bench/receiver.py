"""Benchmark of the webhook receiver as production serves it (issue 30): v2 bot webhooks posted
by several senders at once to gunicorn (`-c python:portal.gunicorn`, DEBUG off, the production
middleware and JSON logs), while a django-q2 cluster applies them.

    .venv/bin/python -m bench.receiver --database-url postgres://postgres@127.0.0.1/bench_receiver

Builds bench.dataset at --scale with 10 meetings per integration (as bench.bot_news does), signs
every body beforehand (the senders only send), then, with WEB_CONCURRENCY=--web-workers:

- end to end: --meetings meetings' bot stories (three deliveries each) posted by --senders
  threads, each on a keep-alive connection of its own, while a cluster of Q_WORKERS workers
  applies them; posts/s accepted, and webhooks/s applied from the first post to the last
  applied;
- the receiver alone: as many again, posted with no cluster running.

The senders, gunicorn, the cluster and PostgreSQL share this machine's cores: its load average
is printed with each figure, and the CPU seconds gunicorn's workers spent per request. The
database is rebuilt on every run. Prints a Markdown paragraph.
"""

from __future__ import annotations

import argparse
import http.client
import os
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from bench.run import ROOT, WEBHOOK_SECRET, bench_arguments, fresh_database

PATH = "/webhooks/meetingbaas/"


def main() -> None:
    parser = bench_arguments(__doc__, "bench-receiver", scale=0.1)
    parser.add_argument("--meetings", type=int, default=2000, help="meetings whose bots report")
    parser.add_argument("--senders", type=int, default=8, help="threads posting at once")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn's processes")
    args = parser.parse_args()
    (ROOT / "var").mkdir(exist_ok=True)
    fresh_database(args.database_url)
    from bench import dataset
    from bench.bot_news import stories
    from bench.meetings import add_meetings

    dataset.build(args.scale)
    add_meetings(None)
    live = ingest(stories(0, args.meetings), args)
    alone = ingest(stories(args.meetings, args.meetings), args, cluster=False)
    print(render(live, alone, args))


def signed(body: str) -> dict:
    """Svix's headers for `body`, as tests/support/webhook_signing.py signs."""
    from standardwebhooks.webhooks import Webhook

    msg_id = f"msg_{uuid.uuid4().hex}"
    sent_at = datetime.now(UTC)
    return {
        "Content-Type": "application/json",
        "svix-id": msg_id,
        "svix-timestamp": str(int(sent_at.timestamp())),
        "svix-signature": Webhook(WEBHOOK_SECRET).sign(msg_id, sent_at, body),
    }


def send(port: int, requests: list[tuple[str, dict]], failures: list[str]) -> None:
    """Post `requests` one after the other on one keep-alive connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        for body, headers in requests:
            connection.request("POST", PATH, body.encode(), headers)
            response = connection.getresponse()
            answer = response.read()
            if response.status != 200:
                failures.append(f"{response.status} {answer[:200]!r}")
    finally:
        connection.close()


def cpu_seconds(root: int = 0, title: str = "") -> float:
    """CPU seconds (user + system) spent so far by process `root` and those under it, or by the
    processes whose command line holds `title` (a PostgreSQL backend's names its database)."""
    table = {}  # pid: (parent's pid, CPU ticks, command line)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue  # a process that ended meanwhile
        table[int(stat.parent.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]), command)

    def counted(pid: int) -> bool:
        if title:
            return title in table[pid][2]
        while pid and pid != root:
            pid = table.get(pid, (0,))[0]
        return bool(root) and pid == root

    return sum(ticks for pid, (_, ticks, _) in table.items() if counted(pid)) / os.sysconf(
        "SC_CLK_TCK"
    )


def machine_busy() -> tuple[float, float]:
    """The machine's CPU seconds busy and in all, from /proc/stat, all cores added up."""
    ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(ticks) - idle) / tick, sum(ticks) / tick


def ingest(bodies: list[str], args: argparse.Namespace, *, cluster: bool = True) -> dict:
    """Post `bodies` from --senders threads to gunicorn, with or without a cluster applying."""
    from django.conf import settings
    from django.db.models import Count

    from bench.meetings import load_average
    from calendars.models import Meeting, WebhookDelivery
    from tests.support.cluster import start_cluster, stop_cluster
    from tests.support.gunicorn import Web

    requests = [(body, signed(body)) for body in bodies]
    # Each meeting's story in order on one connection: its three steps are never reordered.
    shares = _by_meeting(requests, args.senders)
    first_pk = WebhookDelivery.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    deliveries = WebhookDelivery.objects.filter(pk__gt=first_pk)
    web = Web(
        args.database_url,
        production=True,
        WEB_CONCURRENCY=str(args.web_workers),
        MEETINGBAAS_WEBHOOK_SECRET=WEBHOOK_SECRET,
        LOG_LEVEL="INFO",
    )
    workers = None
    try:
        if cluster:
            workers = start_cluster(
                "http://127.0.0.1:9", Q_WORKERS=str(settings.Q_CLUSTER["workers"])
            )
            time.sleep(3)  # the cluster's processes start
        load = load_average()
        database = f" {settings.DATABASES['default']['NAME']} "  # in its backends' titles
        roles = {
            "web": {"root": web.process.pid},
            "cluster": {"root": workers.pid if workers else 0},
            "database": {"title": database},
        }
        cpu_before = {role: cpu_seconds(**which) for role, which in roles.items()}
        senders_before, busy_before = time.process_time(), machine_busy()
        failures: list[str] = []
        threads = [threading.Thread(target=send, args=(web.port, s, failures)) for s in shares]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        received = time.perf_counter() - started
        cpu = {role: cpu_seconds(**which) - cpu_before[role] for role, which in roles.items()}
        cpu["senders"] = time.process_time() - senders_before
        busy = [after - before for after, before in zip(machine_busy(), busy_before, strict=True)]
        load_received = load_average()
        assert not failures, failures[:5]
        if cluster:
            while deliveries.filter(outcome="pending").exists():
                time.sleep(0.05)
        wall = time.perf_counter() - started
    finally:
        if workers is not None:
            stop_cluster(workers)
        web.stop()
    outcomes = dict(deliveries.values_list("outcome").annotate(n=Count("pk")))
    assert deliveries.count() == len(bodies), outcomes
    if cluster:
        recorded = Meeting.objects.filter(
            bot_status="completed", outcome=Meeting.Outcome.RECORDED
        ).count()
        assert recorded == len(bodies) // 3, (recorded, outcomes)
    return {
        "deliveries": len(bodies),
        "meetings": Meeting.objects.count(),
        "outcomes": outcomes,
        "workers": settings.Q_CLUSTER["workers"],
        "received_per_s": round(len(bodies) / received),
        "received_s": round(received, 1),
        # CPU ms per post while posting, by role; "machine": every process of this machine.
        "cpu_ms": {role: round(1000 * used / len(bodies), 2) for role, used in cpu.items()}
        | {"machine": round(1000 * busy[0] / len(bodies), 2)},
        "busy": round(100 * busy[0] / busy[1]),
        "wall_s": round(wall, 1),
        "applied_per_s": round(len(bodies) / wall),
        "load_before": load,
        "load_received": load_received,
    }


def _by_meeting(requests: list, senders: int) -> list[list]:
    """Each sender's share: whole meetings' stories (three posts each), dealt in turn."""
    shares: list[list] = [[] for _ in range(senders)]
    for n in range(0, len(requests), 3):
        shares[n // 3 % senders].extend(requests[n : n + 3])
    return shares


def render(live: dict, alone: dict, args: argparse.Namespace) -> str:
    from django.db import connection

    engine = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}[connection.vendor]

    def cpu(r: dict) -> str:
        return (
            f"{r['cpu_ms']['web']} in gunicorn's workers, {r['cpu_ms']['senders']} in the "
            f"senders, {r['cpu_ms']['cluster']} in the cluster, {r['cpu_ms']['database']} in "
            f"PostgreSQL's backends, {r['cpu_ms']['machine']} on "
            f"the whole machine, {r['busy']} % busy"
        )

    gunicorn = f"gunicorn with {args.web_workers} workers (production settings)"
    return (
        f"## Webhook receiver under gunicorn: {engine}, scale {args.scale:g}\n\n"
        f"{live['deliveries']:,} bot webhooks ({args.meetings:,} meetings' joining, recording "
        f"and completed, among {live['meetings']:,} meetings) posted by {args.senders} senders "
        f"at once, each on a keep-alive connection, to {gunicorn}, while a django-q2 cluster "
        f"of {live['workers']} workers applies them: {live['received_per_s']:,} posts/s "
        f"accepted ({live['received_s']} s; CPU ms per post: {cpu(live)}), "
        f"**{live['applied_per_s']:,} bot webhooks applied/s** from the first post to the last "
        f"applied ({live['wall_s']} s; load average {live['load_before']} before, "
        f"{live['load_received']} at the last post).\n\n"
        f"The receiver alone, no cluster running: {alone['deliveries']:,} more posted at "
        f"**{alone['received_per_s']:,} posts/s** ({alone['received_s']} s; CPU ms per post: "
        f"{cpu(alone)}; load average {alone['load_before']} before, {alone['load_received']} "
        f"at the last post).\n"
    )


if __name__ == "__main__":
    main()
