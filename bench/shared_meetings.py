"""Benchmark of one bot per meeting (issue 31): `calendar.events_synced` ingestion with the
deduplication on, at 1,000,000 meetings of which a third are shared by 2-5 calendars.

    .venv/bin/python -m bench.shared_meetings --database-url postgres://.../portal_bench_shared
    ... --scale 0.1                                  # 100,000 meetings
    ... --scale 1 --reuse-data    # again on the data set the last build left (no rebuild)


PostgreSQL only (the figure is PostgreSQL's). On top of bench.dataset's customers and
integrations, every customer's policy records every meeting, one bot per meeting for the
whole customer; each integration holds 10 upcoming meetings (one INSERT ... SELECT): a third
are copies of a meeting shared with 1 to 4 colleagues' calendars (groups of 2 to 5 by
customer), each copy's Zoom URL with its own password. The policy has seen them all: each
meeting has its `SharedMeeting` and the carriers their bot.

Measured: one events_synced webhook of 50 events per integration of --customers customers
(its 10 held meetings, renamed, and 40 new ones, a third of them shared with the customer's
other calendars in the same way), posted to the real receiver (signature checked, delivery
stored), then processed as the cluster's workers would (`process_webhook`: the mirror with
each event's same-meeting key, the outcomes, the policy queueing the new meetings), then the
policy's tasks (`apply_bot_policy`: the claim on each shared meeting, covered copies,
outcomes) with Meeting BaaS answered in-process (its network time is not ours). Each step
runs in --workers processes side by side (the web server's workers posting, the cluster's
applying), timed from the first start to the last done. Prints Markdown.

The measurement changes the data, so a build is kept as a template database (`<name>_built`);
--reuse-data copies it afresh into the database measured (a file copy, seconds instead of the
build's minutes), migrated first: after a change, the same data without the rebuild.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta

from bench.meetings import iso, svix
from bench.run import ROOT, admin_connection, fresh_database, setup_django

EVENTS = 50
# The receiver's step, among the tasks the workers run: a delivery posted.
POST = "post"
HELD = 10
# Slots of an integration's held meetings shared with colleagues: 3 of 10, and a 4th for a
# third of the customers (a third on average).
SHARED_SLOTS = 3


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--customers", type=int, default=20, help="customers whose calendars send")
    parser.add_argument(
        "--scope",
        default="customer",
        choices=["customer", "domain", "calendar"],
        help="the policies' scope (calendar: no deduplication, for comparison)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="worker processes applying the deliveries side by side, as the cluster's do "
        "(Q_WORKERS' default: 2)",
    )
    parser.add_argument(
        "--reuse-data",
        action="store_true",
        help="measure on a copy of the data set the last build kept (same --scale and --scope)",
    )
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        parser.error("PostgreSQL only: --database-url postgres://...")
    (ROOT / "var").mkdir(exist_ok=True)
    if args.reuse_data:
        copy_database(args.database_url)
    else:
        fresh_database(args.database_url)
        build(args)
    print(render(measure(args)))


def build(args: argparse.Namespace) -> None:
    """The data set, kept as the template `<name>_built` for --reuse-data."""
    from django.db import connection

    from bench import dataset

    started = time.perf_counter()
    dataset.build(args.scale)
    add_policies(args.scope)
    add_meetings()
    built_s = round(time.perf_counter() - started)
    connection.close()
    with admin_connection(args.database_url) as (admin, name):
        admin.execute(f'DROP DATABASE IF EXISTS "{name}_built" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}_built" TEMPLATE "{name}"')
        admin.execute(f"COMMENT ON DATABASE \"{name}_built\" IS 'built in {built_s} s'")


def copy_database(database_url: str) -> None:
    """The database measured, a fresh copy of the template the last build kept, migrated."""
    with admin_connection(database_url) as (admin, name):
        kept = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [f"{name}_built"])
        if kept.fetchone() is None:
            raise SystemExit(f"No data set kept ({name}_built): run once without --reuse-data")
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{name}_built"')
        # The copy's writes flushed now, not in the middle of the measurement.
        admin.execute("CHECKPOINT")
    setup_django(database_url)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def measure(args: argparse.Namespace) -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            [f"{connection.settings_dict['NAME']}_built"],
        )
        built = cursor.fetchone()[0]
    integrations = senders(args.customers)
    return {
        "built": built,
        "reused": args.reuse_data,
        "held": held_counts(),
        **ingest(integrations, args.scope, args.workers),
    }


# --- data -----------------------------------------------------------------------------------


def add_policies(scope: str) -> None:
    from calendars.models import BotPolicy, Customer

    BotPolicy.objects.bulk_create(
        (
            BotPolicy(customer_id=pk, mode=BotPolicy.Mode.RECORD_ALL, bot_scope=scope)
            for pk in Customer.objects.values_list("pk", flat=True).iterator()
        ),
        batch_size=5000,
    )


# Each active integration's rank among its customer's, and its group of colleagues (2 to 5
# calendars, by customer): the copies of a shared meeting are one group's.
RANKED = """
    SELECT i.id, c.customer_id, c.account_email, i.status,
           (row_number() OVER (PARTITION BY c.customer_id ORDER BY i.id) - 1)
               / (2 + c.customer_id %% 4) AS grp
    FROM calendars_integration i JOIN calendars_credential c ON c.id = i.credential_id
"""


def add_meetings() -> None:
    """10 upcoming meetings per integration, a third of them shared; the policy's
    state once it has seen them (a SharedMeeting each, the first copy carrying the bot)."""
    from django.db import connection
    from django.utils import timezone

    now = timezone.now().replace(second=0, microsecond=0)
    shared = f"(k.k < {SHARED_SLOTS} OR (k.k = {SHARED_SLOTS} AND r.customer_id %% 3 = 0))"
    number = (
        f"CASE WHEN {shared} THEN 80000000000 + r.customer_id * 10000 + r.grp * 10 + k.k "
        "ELSE 90000000000 + r.id * 10 + k.k END"
    )
    start = (
        f"%s::timestamptz + (CASE WHEN {shared} THEN (r.customer_id * 7919 + r.grp * 131 "
        "+ k.k * 2039) ELSE (r.id * 7919 + k.k * 2039) END %% 20160) * interval '1 minute'"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO calendars_meeting (integration_id, remote_event_id, series_id, title, "
            "starts_at, ends_at, meeting_url, same_meeting_key, platform, is_cancelled, "
            "is_recurring, organizer_email, has_bot, bot_summary, bot_failure, synced_at, "
            "auto_bot_at) "
            f"SELECT r.id, gen_random_uuid(), '', 'Roadmap review', {start}, "
            f"{start} + interval '30 minutes', "
            f"'https://us02web.zoom.us/j/' || ({number}) || '?pwd=' || r.id, "
            f"'zoom:' || ({number}), 'zoom', false, false, '', false, '', '', %s, %s "
            f"FROM ({RANKED}) r CROSS JOIN generate_series(0, {HELD - 1}) k(k)",
            [now, now, now, now],
        )
        # One SharedMeeting per meeting, its first copy the carrier with its bot.
        cursor.execute(
            "INSERT INTO calendars_sharedmeeting (customer_id, scope_group, key, starts_at, "
            "starts_minute, carrier_id, created_at) "
            "SELECT DISTINCT ON (c.customer_id, m.same_meeting_key, m.starts_at) c.customer_id, "
            "'', m.same_meeting_key, m.starts_at, m.starts_at, m.id, now() "
            "FROM calendars_meeting m JOIN calendars_integration i ON i.id = m.integration_id "
            "JOIN calendars_credential c ON c.id = i.credential_id "
            "ORDER BY c.customer_id, m.same_meeting_key, m.starts_at, m.id"
        )
        cursor.execute(
            "UPDATE calendars_meeting m SET shared_meeting_id = s.id, "
            "has_bot = (s.carrier_id = m.id), "
            "outcome = CASE WHEN s.carrier_id = m.id THEN 'scheduled' ELSE 'covered' END "
            "FROM calendars_integration i, calendars_credential c, calendars_sharedmeeting s "
            "WHERE i.id = m.integration_id AND c.id = i.credential_id "
            "AND s.customer_id = c.customer_id AND s.key = m.same_meeting_key "
            "AND s.starts_at = m.starts_at"
        )
        cursor.execute("ANALYZE")


def held_counts() -> dict:
    from django.db.models import Count

    from calendars.models import Meeting, SharedMeeting

    copies = Counter(
        Meeting.objects.values("shared_meeting_id")
        .annotate(n=Count("pk"))
        .values_list("n", flat=True)
        .iterator()
    )
    return {
        "meetings": Meeting.objects.count(),
        "shared_meetings": SharedMeeting.objects.count(),
        "in_shared": sum(n * size for size, n in copies.items() if size > 1),
        "groups_by_size": dict(sorted(copies.items())),
    }


def senders(customers: int) -> list[tuple[int, str, int, int]]:
    """(integration, remote id, customer, group) of every active integration of the first
    `customers` customers with 2 or more of them."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT r.id, i.remote_id, r.customer_id, r.grp FROM ({RANKED}) r "
            "JOIN calendars_integration i ON i.id = r.id WHERE r.status = 'active' "
            "AND r.customer_id IN ("
            "  SELECT c.customer_id FROM calendars_integration i JOIN calendars_credential c "
            "  ON c.id = i.credential_id WHERE i.status = 'active' GROUP BY c.customer_id "
            "  HAVING count(*) >= 2 ORDER BY c.customer_id LIMIT %s) ORDER BY r.id",
            [customers],
        )
        return cursor.fetchall()


# --- webhooks -------------------------------------------------------------------------------


def body(remote_id: object, customer: int, group: int, held: list, now: datetime) -> str:
    """One events_synced delivery: the held meetings renamed (their bots still there), and new
    ones (a third shared with the calendars of the customer's group: the same Zoom id and
    start)."""
    events = [(event_id, start, url, "Renamed", bot) for event_id, start, url, bot in held]
    for n in range(EVENTS - len(events)):
        shared = n % 3 == 0
        number = (
            70000000000 + customer * 10000 + group * 100 + n
            if shared
            else 60000000000 + (uuid.UUID(str(remote_id)).int % 10**8) * 100 + n
        )
        start = now + timedelta(hours=3 + 7 * n, minutes=customer % 60)
        event_id = uuid.uuid5(uuid.UUID(str(remote_id)), str(n))
        url = f"https://us02web.zoom.us/j/{number}?pwd={uuid.uuid4().hex[:12]}"
        events.append((event_id, start, url, "New", False))
    series = [
        {
            "event_type": "one_off",
            "series_id": str(uuid.uuid5(uuid.UUID(str(event_id)), "series")),
            "series_bot_scheduled": False,
            "instances": [
                {
                    "event_id": str(event_id),
                    "start": iso(start),
                    "end": iso(start + timedelta(minutes=30)),
                    "title": f"{title} meeting",
                    "status": "confirmed",
                    "is_all_day": False,
                    "is_exception": False,
                    "bot_scheduled": bot,
                    "meeting_url": url,
                    "meeting_platform": "zoom",
                }
            ],
        }
        for event_id, start, url, title, bot in events
    ]
    return json.dumps(
        {
            "event": "calendar.events_synced",
            "data": {"calendar_id": str(remote_id), "events": series},
        }
    )


class AnsweringApi:
    """Meeting BaaS answering every bot schedule, and every event's details, at once,
    in-process."""

    def schedule_bot(self, calendar_id: object, *, event_id: object, **_: object):
        from calendars.meetingbaas.types import BotScheduling

        return BotScheduling(succeeded=[event_id], failed=[])

    def get_event(self, calendar_id: object, event_id: object):
        """Details naming an organizer from outside the customer (as most meetings' are): the
        policy asks them of a new shared meeting to find the organizer's copy, and the first
        copy seen carries its bot."""
        from calendars.meetingbaas.types import EventStatus, MeetingPlatform, RemoteEvent

        now = datetime.now().astimezone()
        return RemoteEvent(
            event_id=event_id,
            title="",
            start=now,
            end=now,
            status=EventStatus.CONFIRMED,
            meeting_url=None,
            platform=MeetingPlatform.ZOOM,
            is_recurring=False,
            organizer_email="pat@partner.example",
            attendee_domains=frozenset({"partner.example"}),
            declined_by=frozenset(),
        )


def ingest(integrations: list[tuple[int, str, int, int]], scope: str, workers: int) -> dict:
    """Post every delivery to the receiver, process them, then run the policy's tasks they
    queued: each step in `workers` processes side by side (as the web server's and the
    cluster's workers take them)."""
    from django.test import Client
    from django.utils import timezone

    from calendars.meetings import bots, recording
    from calendars.models import BotAttempt, Meeting, SharedMeeting, WebhookDelivery

    now = timezone.now()
    held: dict[int, list] = {}
    for integration_id, *meeting in Meeting.objects.filter(
        integration_id__in=[i[0] for i in integrations]
    ).values_list("integration_id", "remote_event_id", "starts_at", "meeting_url", "has_bot"):
        held.setdefault(integration_id, []).append(meeting)
    bodies = [body(r, c, g, held.get(pk, []), now) for pk, r, c, g in integrations]
    queued: list[tuple[str, tuple]] = [(POST, (text,)) for text in bodies]
    bots.client = recording.client = lambda version: AnsweringApi()
    meetings_before, shared_before = Meeting.objects.count(), SharedMeeting.objects.count()
    spent, asked, cpu_ms = Counter(), Counter(), {}

    # A request served first, as a running server has: the workers, forked from here, start
    # with the URLs, views and middleware loaded.
    Client().get("/webhooks/meetingbaas/")
    for step, name in ((POST, "receiver"), ("process_webhook", None), ("apply_bot_policy", None)):
        # Each worker its share of the step's tasks, in the order they were queued.
        step_tasks = [(task, args) for task, args in queued if task == step]
        later = [(task, args) for task, args in queued if task != step]
        shares = [step_tasks[n::workers] for n in range(workers)]
        name = name or step
        spent[name], asked[name], cpu_s, queued = _in_workers(shares)
        cpu_ms[name] = round(cpu_s * 1000 / max(len(step_tasks), 1), 2)
        queued += later
    if queued:
        _step(spent, asked, "other tasks", lambda: _run_tasks(queued))
    outcomes = Counter(
        WebhookDelivery.objects.filter(event="calendar.events_synced").values_list(
            "outcome", flat=True
        )
    )
    assert outcomes == {"applied": len(bodies)}, outcomes
    new = Meeting.objects.filter(title="New meeting")
    per_group = Counter(
        new.filter(has_bot=True, shared_meeting__isnull=False)
        .values_list("shared_meeting_id", flat=True)
        .iterator()
    )
    events = EVENTS * len(bodies)
    ingestion = spent["receiver"] + spent["process_webhook"]
    return {
        "deliveries": len(bodies),
        "integrations_customers": len({c for _, _, c, _ in integrations}),
        "events": events,
        "created": Meeting.objects.count() - meetings_before,
        "new_shared_meetings": SharedMeeting.objects.count() - shared_before,
        "new_bots": new.filter(has_bot=True).count(),
        "new_covered": new.filter(outcome="covered").count(),
        "bots_per_shared_meeting_max": max(per_group.values(), default=0),
        "bot_attempts": BotAttempt.objects.count(),
        "queries_per_delivery": round(sum(asked.values()) / len(bodies), 1),
        "spent_s": {name: round(seconds, 2) for name, seconds in spent.items()},
        "queries": dict(asked),
        "cpu_ms_per_task": cpu_ms,
        "scope": scope,
        "workers": workers,
        "wall_s": round(sum(spent.values()), 2),
        "events_per_s": round(events / sum(spent.values())),
        "ingestion_events_per_s": round(events / ingestion),
    }


def _step(spent: Counter, asked: Counter, name: str, run) -> None:
    from django.db import connection

    from bench.measure import QueryCounter

    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        started = time.perf_counter()
        run()
        spent[name] += time.perf_counter() - started
    asked[name] += counter.queries


def _run_tasks(tasks_queued: list[tuple[str, tuple]]) -> None:
    """Run queued tasks as a worker would, and those they queue in turn."""
    from calendars import queue, tasks

    pending = list(tasks_queued)
    queue.enqueue = lambda task, *args, **_: pending.append((task, args))
    while pending:
        task, args = pending.pop(0)
        getattr(tasks, task)(*args)


def _in_workers(
    shares: list[list[tuple[str, tuple]]],
) -> tuple[float, int, float, list[tuple[str, tuple]]]:
    """Run each share of tasks in a worker process of its own (forked, each with its own
    database connection), all at once; the seconds from the start to the last one done, their
    statements, the seconds of CPU they spent (PostgreSQL's own not counted), and the tasks
    they queued."""
    import multiprocessing

    from django.db import connections

    connections.close_all()  # each worker opens its own
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    started = time.perf_counter()
    processes = [
        context.Process(target=_worker, args=(share, results)) for share in shares if share
    ]
    if not processes:
        return 0.0, 0, 0.0, []
    for process in processes:
        process.start()
    reported = [results.get() for _ in processes]
    finished = max(done for done, _, _, _ in reported)
    for process in processes:
        process.join()
    queued = [task for *_, tasks_queued in reported for task in tasks_queued]
    return (
        finished - started,
        sum(n for _, n, _, _ in reported),
        sum(cpu for _, _, cpu, _ in reported),
        queued,
    )


def _post(text: str) -> None:
    """Post a delivery to the receiver, as Meeting BaaS does (signed)."""
    from django.test import Client

    response = Client().post(
        "/webhooks/meetingbaas/", text, content_type="application/json", **svix(text)
    )
    assert response.status_code == 200, response.content


def _worker(share: list[tuple[str, tuple]], results) -> None:
    from django.db import connection

    from bench.measure import QueryCounter
    from calendars import queue, tasks

    queued: list[tuple[str, tuple]] = []
    queue.enqueue = lambda task, *args, **_: queued.append((task, args))
    counter = QueryCounter()
    cpu_started = time.process_time()
    with connection.execute_wrapper(counter):
        for task, args in share:
            if task == POST:
                _post(*args)
            else:
                getattr(tasks, task)(*args)
    results.put((time.perf_counter(), counter.queries, time.process_time() - cpu_started, queued))
    connection.close()


def render(r: dict) -> str:
    spent = r["spent_s"]
    lines = [
        "### One bot per meeting: events_synced ingestion with deduplication (PostgreSQL)",
        "",
        f"Policies' scope: one bot per meeting for each {r['scope']}.",
        "",
        f"Data: {r['held']['meetings']:,} meetings ({r['held']['in_shared']:,} of them copies "
        f"of a meeting shared by 2-5 calendars; copies per meeting: "
        f"{r['held']['groups_by_size']}), {r['held']['shared_meetings']:,} shared meetings, "
        f"{'a copy of the data set ' if r['reused'] else ''}{r['built']}.",
        "",
        f"{r['deliveries']:,} deliveries of {EVENTS} events from the calendars of "
        f"{r['integrations_customers']} customers ({r['events']:,} events, {r['created']:,} "
        f"new meetings: {r['new_bots']:,} got a bot, {r['new_covered']:,} covered; at most "
        f"{r['bots_per_shared_meeting_max']} bot per shared meeting), "
        f"{r['workers']} worker process(es) applying the deliveries, "
        f"{r['queries_per_delivery']} queries per delivery:",
        "",
        # The workers' own CPU (PostgreSQL's not counted): comparable across machines where
        # the seconds are not.
        "| step | seconds | events/s | queries | worker CPU ms a task |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    cpu = r["cpu_ms_per_task"]
    for name, seconds in spent.items():
        queries = r["queries"][name]
        lines.append(
            f"| {name} | {seconds} | {round(r['events'] / seconds):,} | {queries:,} | "
            f"{cpu.get(name, '—')} |"
        )
    lines += [
        f"| **ingestion (receiver + process_webhook)** | "
        f"{round(spent['receiver'] + spent['process_webhook'], 2)} | "
        f"**{r['ingestion_events_per_s']:,}** | "
        f"{r['queries']['receiver'] + r['queries']['process_webhook']:,} | "
        f"{round(cpu['receiver'] + cpu['process_webhook'], 2)} a delivery |",
        f"| all (ingestion, then the policy's deduplication and bots) | {r['wall_s']} | "
        f"{r['events_per_s']:,} | {sum(r['queries'].values()):,} | |",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
