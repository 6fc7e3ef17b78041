"""Benchmark of the bots' news (issue 30): v2 bot webhooks through the real receiver while a
django-q2 cluster applies them to their meetings.

    .venv/bin/python -m bench.bot_news --database-url postgres://postgres@127.0.0.1/portal_bench_bots

Builds bench.dataset at --scale with 10 meetings per integration (bench.meetings), then posts
each of --meetings meetings' bot story (bot.status_change joining_call, in_call_recording,
bot.completed: three deliveries a meeting, matched by event id) to the receiver, one after
the other through Django's test client, while a cluster of Q_WORKERS workers applies them
(from the first post to the last applied: the receiver's pace bounds it). Then the same for
--meetings other meetings posted while no cluster runs, applied by a cluster started
afterwards: the cluster's own pace, from its first batch applied to its last. The database
is rebuilt on every run. Prints a Markdown paragraph.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from datetime import timedelta

from bench.run import ROOT, bench_arguments, fresh_database


def main() -> None:
    parser = bench_arguments(__doc__, "bench-bots", scale=0.1)
    parser.add_argument("--meetings", type=int, default=2000, help="meetings whose bots report")
    args = parser.parse_args()
    (ROOT / "var").mkdir(exist_ok=True)
    fresh_database(args.database_url)
    from bench import dataset
    from bench.meetings import add_meetings

    dataset.build(args.scale)
    add_meetings(None)
    live = ingest(stories(0, args.meetings))
    backlog = ingest(stories(args.meetings, args.meetings), backlog=True)
    print(render(live, backlog, args))


def stories(skip: int, count: int) -> list[str]:
    """Each meeting's three bot webhooks, in the order they happen."""
    from django.utils import timezone

    from bench.meetings import iso
    from calendars.models import Meeting

    now = timezone.now()
    meetings = Meeting.objects.filter(integration__api_version="v2").order_by("pk")
    bodies = []
    for pk, event_id in meetings.values_list("pk", "remote_event_id")[skip : skip + count]:
        base = {"bot_id": str(uuid.uuid4()), "event_id": str(event_id)}
        extra = {"portal_meeting_id": str(pk)}
        joined, left = now - timedelta(minutes=30), now
        for code, at in (("joining_call", joined), ("in_call_recording", joined)):
            status = {"code": code, "created_at": iso(at)}
            bodies.append({"event": "bot.status_change", "data": {**base, "status": status}})
        completed = {
            **base,
            "joined_at": iso(joined),
            "exited_at": iso(left),
            "duration_seconds": 1800,
            "sent_at": iso(left),
        }
        bodies.append({"event": "bot.completed", "data": completed})
        for body in bodies[-3:]:
            body["extra"] = extra
    return [json.dumps(body) for body in bodies]


def ingest(bodies: list[str], *, backlog: bool = False) -> dict:
    """Post `bodies` while a cluster applies them, or (`backlog`) before a cluster starts."""
    from django.conf import settings
    from django.db.models import Count
    from django.test import Client

    from bench.meetings import load_average, svix
    from calendars.models import Meeting, WebhookDelivery
    from tests.support.cluster import start_cluster, stop_cluster

    client = Client()
    load = load_average()
    first_pk = WebhookDelivery.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    deliveries = WebhookDelivery.objects.filter(pk__gt=first_pk)
    cluster = None

    def start() -> None:
        nonlocal cluster
        cluster = start_cluster("http://127.0.0.1:9", Q_WORKERS=str(settings.Q_CLUSTER["workers"]))

    try:
        if not backlog:
            start()
            time.sleep(3)  # the cluster's processes start
        started = time.perf_counter()
        for body in bodies:
            response = client.post(
                "/webhooks/meetingbaas/", body, content_type="application/json", **svix(body)
            )
            assert response.status_code == 200, response.content
        received = time.perf_counter() - started
        if backlog:
            start()
        while deliveries.filter(outcome="pending").exists():
            time.sleep(0.05)
        wall = time.perf_counter() - started
    finally:
        if cluster is not None:
            stop_cluster(cluster)
    outcomes = dict(deliveries.values_list("outcome").annotate(n=Count("pk")))
    recorded = Meeting.objects.filter(
        bot_status="completed", outcome=Meeting.Outcome.RECORDED
    ).count()
    assert recorded == len(bodies) // 3 * (2 if backlog else 1), (recorded, outcomes)
    batches = sorted(set(deliveries.values_list("processed_at", flat=True)))
    first_batch = deliveries.filter(processed_at=batches[0]).count()
    applying = (batches[-1] - batches[0]).total_seconds()
    return {
        "deliveries": len(bodies),
        "meetings": Meeting.objects.count(),
        "outcomes": outcomes,
        "workers": settings.Q_CLUSTER["workers"],
        "received_per_s": round(len(bodies) / received),
        "wall_s": round(wall, 1),
        "applied_per_s": round(len(bodies) / wall),
        "batches": len(batches),
        "applying_s": round(applying, 2),
        # From the first batch's commit to the last's: the deliveries after the first batch.
        "cluster_per_s": round((len(bodies) - first_batch) / applying) if applying else None,
        "load_before": load,
        "load_after": load_average(),
    }


def render(live: dict, backlog: dict, args: argparse.Namespace) -> str:
    from django.db import connection

    engine = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}[connection.vendor]

    def said(r: dict) -> str:
        outcomes = ", ".join(f"{n:,} {outcome}" for outcome, n in sorted(r["outcomes"].items()))
        return f"{outcomes}; load average {r['load_before']} before, {r['load_after']} after"

    return (
        f"## Bot news: {engine}, scale {args.scale:g}\n\n"
        f"{live['deliveries']:,} bot webhooks ({args.meetings:,} meetings' joining, recording "
        f"and completed, among {live['meetings']:,} meetings), posted to the receiver one after "
        f"the other ({live['received_per_s']:,} deliveries/s) while a django-q2 cluster of "
        f"{live['workers']} workers applies them: {live['applied_per_s']:,} bot webhooks "
        f"applied/s from the first post to the last applied, in {live['batches']} batches "
        f"({live['wall_s']} s; {said(live)}).\n\n"
        f"{backlog['deliveries']:,} more (another {args.meetings:,} meetings) posted with no "
        f"cluster running ({backlog['received_per_s']:,} deliveries/s), then applied by a "
        f"cluster started afterwards: **{backlog['cluster_per_s']:,} bot webhooks applied/s** "
        f"from its first batch applied to its last ({backlog['batches']} batches in "
        f"{backlog['applying_s']} s; {backlog['wall_s']} s from the first post to the last "
        f"applied, the cluster's start included; {said(backlog)}).\n"
    )


if __name__ == "__main__":
    main()
