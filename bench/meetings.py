"""Benchmark of meetings and bots (issue 16): the Meetings pages, event webhooks, window sync.

    .venv/bin/python -m bench.meetings                  # scale 1: 1,000,000 meetings, SQLite
    .venv/bin/python -m bench.meetings --scale 0.1      # 100,000 meetings
    .venv/bin/python -m bench.meetings --database-url postgres://postgres@127.0.0.1/portal_bench_meetings

On top of bench.dataset's integrations, each integration gets 10 upcoming meetings (written
with one INSERT ... SELECT per size, not row by row). The pages are timed with a tenth of the
meetings, then with all of them; then `calendar.events_synced` webhooks go through the real
receiver while a django-q2 cluster (`manage.py qcluster`, Q_WORKERS workers) processes them;
last, the window sync of --sync-size of those integrations runs against the in-process sandbox
beside the naive baseline of one GET per meeting. `--steps` picks among these three (the data
is built whichever run). The database is rebuilt on every run. Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import datetime, timedelta

from bench.run import ROOT, WEBHOOK_SECRET, bench_arguments, fresh_database

MEETINGS_PER_INTEGRATION = 10
# One customer in five records every meeting, one in five has the default policy on record.
RECORD_ALL_EVERY = 5
TITLES = ("Customer call", "Interview", "Quarterly planning", "Team standup", "Weekly sync")
# Rare enough that the search reads far before it fills a page.
RARE_TITLE = "Board review"
STEPS = ("pages", "webhooks", "sync")
# "Meetings at risk" is also timed with the plan's daily bot cap set: its section over the cap.
CAPPED_BOTS_PER_DAY = 300


def main() -> None:
    parser = bench_arguments(__doc__, "bench-meetings", scale=1.0)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument(
        "--plain-repeat",
        type=int,
        default=5,
        help="requests to each plain ModelAdmin page (its searches take seconds at 1,000,000; "
        "0: none)",
    )
    parser.add_argument("--deliveries", type=int, default=400, help="events_synced webhooks")
    parser.add_argument("--sync-size", type=int, default=10_000, help="integrations synced")
    parser.add_argument(
        "--naive-size", type=int, default=250, help="integrations the naive baseline syncs"
    )
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument(
        "--reuse-data",
        action="store_true",
        help="time the pages (at all the meetings) on the data set the last run left, migrated",
    )
    parser.add_argument(
        "--steps",
        default=",".join(STEPS),
        help=f"which measurements to run, comma-separated (default: all of {', '.join(STEPS)})",
    )
    args = parser.parse_args()
    args.steps = set(args.steps.split(","))
    if not args.steps <= set(STEPS):
        parser.error(f"--steps takes {', '.join(STEPS)}")
    (ROOT / "var").mkdir(exist_ok=True)
    if args.reuse_data:
        print(render_again(measure_again(args), args))
        return
    fresh_database(args.database_url)
    print(render(measure_all(args), args))


def measure_all(args: argparse.Namespace) -> dict:
    from bench import dataset

    started = time.perf_counter()
    sizes = dataset.build(args.scale)
    built = {"base_s": time.perf_counter() - started}
    add_policies()
    client = admin_client()
    results: dict = {"sizes": sizes, "pages": {}}
    for share, label in ((0, "small"), (None, "large")):
        started = time.perf_counter()
        add_meetings(share)
        if share is None:
            add_shared_copies()
        built[f"meetings_{label}_s"] = time.perf_counter() - started
        timed = pages(client, args.repeat, args.plain_repeat) if "pages" in args.steps else {}
        results["pages"][label] = {"meetings": meeting_count(), **timed}
    results["built"] = built
    # Webhooks first: at smaller scales, the sync takes the integrations that are left.
    quiet = integrations_without_bots_policy(args.deliveries + args.sync_size)
    if "webhooks" in args.steps:
        results["webhooks"] = ingest(quiet[: args.deliveries], client)
    if "sync" in args.steps:
        results["sync"] = window_sync(quiet[args.deliveries :], args)
    return results


# --- data -----------------------------------------------------------------------------------


def add_policies() -> None:
    from calendars.models import BotPolicy, Customer

    ids = Customer.objects.order_by("pk").values_list("pk", flat=True)
    BotPolicy.objects.bulk_create(
        (
            BotPolicy(
                customer_id=pk,
                mode=BotPolicy.Mode.RECORD_ALL if n % RECORD_ALL_EVERY == 0 else "scheduled_only",
            )
            for n, pk in enumerate(ids)
            if n % RECORD_ALL_EVERY < 2
        ),
        batch_size=5000,
    )


def add_meetings(share: int | None) -> None:
    """10 upcoming meetings per integration: those whose id ends in `share`, or the others."""
    from django.db import connection, transaction
    from django.utils import timezone

    from calendars.models import Integration, Meeting

    now = timezone.now().replace(microsecond=0)
    if connection.vendor == "postgresql":
        new_id, moment = "gen_random_uuid()", "(%s::timestamptz + ({}) * interval '1 minute')"
        now_param: object = now
    else:
        new_id, moment = "lower(hex(randomblob(16)))", "datetime(%s, '+' || ({}) || ' minutes')"
        now_param = now.strftime("%Y-%m-%d %H:%M:%S")
    # Spread over the window by a cheap hash of (integration, k): a few per integration today.
    # (%% is the modulo: the SQL carries parameters.)
    minutes = f"((i.id * 7919 + k.k * 2039) %% {14 * 24 * 60})"
    mix = "((i.id + k.k * 3) %% 50)"
    titles = " ".join(f"WHEN {n} THEN '{title}'" for n, title in enumerate(TITLES))
    picked = "= 0" if share == 0 else "<> 0"
    ks = " UNION ALL ".join(f"SELECT {k} AS k" for k in range(MEETINGS_PER_INTEGRATION))
    sql = f"""
        INSERT INTO {Meeting._meta.db_table} (
            integration_id, remote_event_id, series_id, title, starts_at, ends_at, meeting_url,
            platform, is_cancelled, is_recurring, organizer_email, has_bot, bot_summary,
            bot_failure, synced_at
        )
        SELECT
            i.id, {new_id}, '',
            CASE WHEN {mix} = 7 AND i.id %% 100 = 0 THEN '{RARE_TITLE}'
                 ELSE CASE (i.id + k.k) %% {len(TITLES)} {titles} END END || ' ' || i.id,
            {moment.format(minutes)}, {moment.format(minutes + " + 30")},
            CASE WHEN {mix} < 5 THEN ''
                 ELSE 'https://meet.google.com/bch-' || i.id || '-' || k.k END,
            CASE WHEN {mix} < 5 THEN 'none' ELSE 'google_meet' END,
            {mix} = 5, k.k %% 2 = 0, '', {mix} >= 20,
            CASE WHEN {mix} >= 20 THEN 'Notetaker, speaker view' ELSE '' END,
            CASE WHEN {mix} IN (6, 7) THEN 'BOT_LIMIT: too many bots' ELSE '' END,
            %s
        FROM {Integration._meta.db_table} i CROSS JOIN ({ks}) k
        WHERE i.id %% 10 {picked}
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [now_param, now_param, now_param])
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Meeting._meta.db_table}")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


# Issue 31: one meeting in 6 is shared with a second calendar (a copy of it, covered by it),
# one in 6 is removed to keep the count; one in 40 was kept from its bot by a recording rule,
# one in 1,000 changed too late for its bot.
SHARED_EVERY = 6
RULE_REASON_EVERY = 40
CHANGED_LATE_EVERY = 1000


def add_shared_copies() -> None:
    """What issue 31 adds to the rows the pages read: same-meeting keys, shared meetings with
    their carrier, covered copies in the next integration's calendar, rule reasons, and
    meetings changed too late. In SQL, as add_meetings."""
    from django.db import connection, transaction
    from django.utils import timezone

    from calendars.models import Meeting, SharedMeeting

    m, s = Meeting._meta.db_table, SharedMeeting._meta.db_table
    new_id = (
        "gen_random_uuid()" if connection.vendor == "postgresql" else "lower(hex(randomblob(16)))"
    )
    now = timezone.now().replace(microsecond=0)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {m} WHERE id %% {SHARED_EVERY} = 3", [])
        cursor.execute(
            f"UPDATE {m} SET same_meeting_key = 'zoom:' || id, platform = 'zoom', "
            "meeting_url = 'https://us02web.zoom.us/j/' || id "
            f"WHERE id %% {SHARED_EVERY} = 0",
            [],
        )
        cursor.execute(
            f"INSERT INTO {s} (customer_id, scope_group, key, starts_at, starts_minute, "
            "carrier_id, created_at) "
            "SELECT c.customer_id, '', m.same_meeting_key, m.starts_at, m.starts_at, m.id, %s "
            f"FROM {m} m JOIN calendars_integration i ON i.id = m.integration_id "
            "JOIN calendars_credential c ON c.id = i.credential_id "
            "WHERE m.same_meeting_key <> ''",
            [now],
        )
        cursor.execute(
            f"UPDATE {m} SET shared_meeting_id = (SELECT s.id FROM {s} s WHERE s.carrier_id = "
            f"{m}.id), outcome = CASE WHEN has_bot THEN 'scheduled' ELSE outcome END "
            "WHERE same_meeting_key <> ''",
            [],
        )
        cursor.execute(
            f"INSERT INTO {m} (integration_id, remote_event_id, series_id, title, starts_at, "
            "ends_at, meeting_url, same_meeting_key, shared_meeting_id, platform, is_cancelled, "
            "is_recurring, organizer_email, has_bot, bot_summary, bot_failure, synced_at, "
            "outcome) "
            f"SELECT i.id, {new_id}, '', m.title, m.starts_at, m.ends_at, m.meeting_url || "
            "'?pwd=' || i.id, m.same_meeting_key, m.shared_meeting_id, m.platform, "
            "m.is_cancelled, m.is_recurring, '', false, '', '', m.synced_at, 'covered' "
            f"FROM {m} m JOIN calendars_integration i ON i.id = m.integration_id + 1 "
            "WHERE m.shared_meeting_id IS NOT NULL",
            [],
        )
        cursor.execute(
            f"UPDATE {m} SET rule_reason = 'Title contains \"standup\": not recorded' "
            f"WHERE NOT has_bot AND id %% {RULE_REASON_EVERY} = 1",
            [],
        )
        cursor.execute(
            f"UPDATE {m} SET bot_changed_late_at = synced_at "
            f"WHERE has_bot AND id %% {CHANGED_LATE_EVERY} = 2",
            [],
        )
    with connection.cursor() as cursor:
        # Every table, as on SQLite: without statistics of the policies, PostgreSQL's plan
        # for the at-risk rules that join them read every meeting of the next 24 h (450 ms).
        # VACUUM too, as autovacuum would after such a load: an index-only scan reads the
        # table's pages until the visibility map is set (tomorrow's bots: 220 ms, then 28).
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


def meeting_count() -> int:
    from calendars.models import Meeting

    return Meeting.objects.count()


def integrations_without_bots_policy(count: int) -> list[int]:
    """Active integrations whose customers record nothing by policy: syncing and webhooks
    then measure the mirror, not the bot calls a policy would add."""
    from calendars.models import Integration

    return list(
        Integration.objects.filter(status="active")
        .exclude(credential__customer__bot_policy__mode="record_all")
        .order_by("pk")
        .values_list("pk", flat=True)[:count]
    )


# --- pages ----------------------------------------------------------------------------------


def admin_client():
    from django.contrib.auth import get_user_model
    from django.test import Client

    user = get_user_model().objects.create_superuser("bench", "bench@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


def pages(client, repeat: int, plain_repeat: int) -> dict:
    """Each page timed, and beside it the plain ModelAdmin's (bench/plain_admin.py) where
    there is one: "Meetings at risk" also with the plan's daily bot cap set (its section over
    the cap), and the change page of a meeting shared with another calendar."""
    from django.test import override_settings
    from django.urls import reverse

    from bench.measure import timed_pages
    from calendars.models import Meeting

    base = reverse("admin:calendars_meeting_changelist")
    event_id = Meeting.objects.order_by("-pk").values_list("remote_event_id", flat=True).first()
    shared = (
        Meeting.objects.filter(shared_meeting__isnull=False, outcome="covered")
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )
    urls = {
        "Meetings (default)": (base, ""),
        "Meetings, next 24 h without a bot": (
            base + "?starts=next_24h&has_bot__exact=0",
            "?has_bot__exact=0",
        ),
        "Meetings, search title 'planning'": (base + "?q=planning", "?q=planning"),
        f"Meetings, search title '{RARE_TITLE.lower()}' (rare)": (
            base + f"?q={RARE_TITLE.lower().replace(' ', '+')}",
            f"?q={RARE_TITLE.lower().replace(' ', '+')}",
        ),
        "Meetings, search title 'planning 4242' (a few)": (
            base + "?q=planning+4242",
            "?q=planning+4242",
        ),
        "Meetings, search account e-mail 'user4242'": (base + "?q=user4242", "?q=user4242"),
        "Meetings, search customer name 'mer 4242'": (base + "?q=mer+4242", "?q=mer+4242"),
        "Meetings, search exact event id": (base + f"?q={event_id}", f"?q={event_id}"),
        "Meetings at risk": (reverse("admin:calendars_meeting_at_risk"), None),
        "admin home (with the at-risk lane)": (reverse("admin:index"), None),
    }
    if shared:
        urls["a shared meeting's change page (a covered copy)"] = (
            reverse("admin:calendars_meeting_change", args=[shared]),
            # Not beside the plain one: its select of every integration is 100,000 options.
            None,
        )
    with override_settings(ROOT_URLCONF="bench.urls"):
        ours = timed_pages(client, {name: url for name, (url, _) in urls.items()}, repeat)
        plain = timed_pages(
            client,
            {
                name: "/plain/calendars/meeting/" + query
                for name, (_, query) in urls.items()
                if query is not None and plain_repeat
            },
            plain_repeat,
        )
        with override_settings(MEETINGBAAS_BOTS_PER_DAY=CAPPED_BOTS_PER_DAY):
            ours[f"Meetings at risk, MEETINGBAAS_BOTS_PER_DAY={CAPPED_BOTS_PER_DAY}"] = timed_pages(
                client, {"": reverse("admin:calendars_meeting_at_risk")}, repeat
            )[""]
    for name, figures in plain.items():
        ours[name]["plain"] = figures
    return ours


def measure_again(args: argparse.Namespace) -> dict:
    """The pages on the data set the last run left, migrated first."""
    from django.core.management import call_command

    from bench.run import setup_django

    setup_django(args.database_url)
    call_command("migrate", verbosity=0)
    from bench.measure import bench_client

    return {"meetings": meeting_count(), **pages(bench_client(), args.repeat, args.plain_repeat)}


def render_again(timed: dict, args: argparse.Namespace) -> str:
    from django.db import connection

    engine = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}[connection.vendor]
    meetings = timed.pop("meetings")
    lines = [
        f"## Meetings pages again: {engine}, {meetings:,} meetings",
        "",
        f"Load average {load_average()} at the end.",
        "",
        f"| page ({args.repeat} requests) | median ms | p95 ms | queries "
        f"| plain median ms ({args.plain_repeat} requests) | plain queries | ratio |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    lines += [f"| {name} | {page_row(page)} |" for name, page in timed.items()]
    return "\n".join(lines) + "\n"


def page_row(page: dict) -> str:
    plain = page.get("plain")
    theirs = (
        f"{plain['median_ms']} | {plain['queries']} | {page['median_ms'] / plain['median_ms']:.2f}x"
        if plain
        else "— | — | —"
    )
    return f"{page['median_ms']} | {page['p95_ms']} | {page['queries']} | {theirs}"


# --- webhooks -------------------------------------------------------------------------------


def ingest(integration_ids: list[int], client) -> dict:
    """One events_synced webhook of 50 events per integration (its 10 held meetings, 40 new),
    posted to the receiver while a django-q2 cluster (Q_WORKERS) processes them."""
    from django.conf import settings
    from django.db import connection
    from django.db.models import Count

    from bench.measure import QueryCounter
    from calendars.models import Integration, Meeting, WebhookDelivery
    from tests.support.cluster import start_cluster, stop_cluster

    remote = dict(Integration.objects.filter(pk__in=integration_ids).values_list("pk", "remote_id"))
    held: dict[int, list] = {}
    for integration_id, event_id, starts_at in Meeting.objects.filter(
        integration_id__in=integration_ids
    ).values_list("integration_id", "remote_event_id", "starts_at"):
        held.setdefault(integration_id, []).append((event_id, starts_at))
    bodies = [webhook_body(remote[pk], held.get(pk, [])) for pk in integration_ids]
    before = Meeting.objects.count()
    deliveries = WebhookDelivery.objects.filter(event="calendar.events_synced")
    # What else the machine was doing, before this step's own processes add to it.
    load = load_average()
    cluster = start_cluster("http://127.0.0.1:9", Q_WORKERS=str(settings.Q_CLUSTER["workers"]))
    try:
        time.sleep(3)  # the cluster's processes start
        counter = QueryCounter()
        with connection.execute_wrapper(counter):
            started = time.perf_counter()
            for body in bodies:
                response = client.post(
                    "/webhooks/meetingbaas/", body, content_type="application/json", **svix(body)
                )
                assert response.status_code == 200, response.content
            received = time.perf_counter() - started
        while deliveries.filter(outcome="pending").exists():
            time.sleep(0.05)
        wall = time.perf_counter() - started
    finally:
        stop_cluster(cluster)
    outcomes = dict(deliveries.values_list("outcome").annotate(n=Count("pk")))
    assert outcomes == {"applied": len(bodies)}, outcomes
    events = 50 * len(bodies)
    return {
        "deliveries": len(bodies),
        "events": events,
        "created": Meeting.objects.count() - before,
        "workers": settings.Q_CLUSTER["workers"],
        "received_per_s": round(len(bodies) / received),
        "receiver_queries": round(counter.queries / len(bodies), 1),
        "wall_s": round(wall, 1),
        "events_per_s": round(events / wall),
        "load_before": load,
        "load_after": load_average(),
    }


def webhook_body(remote_id: object, held: list[tuple[object, datetime]]) -> str:
    import uuid

    from django.utils import timezone

    now = timezone.now()
    events = [(event_id, starts_at, "Renamed") for event_id, starts_at in held]
    events += [
        (uuid.uuid5(uuid.UUID(str(remote_id)), str(n)), now + timedelta(hours=3 + 7 * n), "New")
        for n in range(50 - len(events))
    ]
    series = [
        {
            "event_type": "one_off",
            "series_id": str(uuid.uuid5(uuid.UUID(str(event_id)), "series")),
            "series_bot_scheduled": False,
            "instances": [
                {
                    "event_id": str(event_id),
                    "start": iso(starts_at),
                    "end": iso(starts_at + timedelta(minutes=30)),
                    "title": f"{title} meeting",
                    "status": "confirmed",
                    "is_all_day": False,
                    "is_exception": False,
                    "bot_scheduled": False,
                    "meeting_url": "https://meet.google.com/abc-defg-hij",
                    "meeting_platform": "meet",
                }
            ],
        }
        for event_id, starts_at, title in events
    ]
    return json.dumps(
        {
            "event": "calendar.events_synced",
            "data": {"calendar_id": str(remote_id), "events": series},
        }
    )


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def svix(body: str) -> dict:
    """Signed as Svix signs, as tests/support/webhook_signing.py does."""
    import uuid
    from datetime import UTC

    from standardwebhooks.webhooks import Webhook

    msg_id = f"msg_{uuid.uuid4().hex}"
    sent_at = datetime.now(UTC)
    return {
        "HTTP_SVIX_ID": msg_id,
        "HTTP_SVIX_TIMESTAMP": str(int(sent_at.timestamp())),
        "HTTP_SVIX_SIGNATURE": Webhook(WEBHOOK_SECRET).sign(msg_id, sent_at, body),
    }


# --- window sync ----------------------------------------------------------------------------


def window_sync(integration_ids: list[int], args: argparse.Namespace) -> dict:
    """The periodic window sync of `integration_ids` (one task's loop, one after the other),
    then the naive baseline on `naive_size` of them: one GET per meeting held."""
    from django.db import connection
    from django.test import override_settings

    from bench.measure import QueryCounter
    from calendars import meetingbaas
    from calendars.meetings.sync import sync_windows
    from calendars.models import Meeting
    from sandbox import SandboxServer
    from sandbox.state import SandboxState

    server = SandboxServer(state=SandboxState(api_key="bench-key", sync_delay=0)).start()
    seed_connections(server.state, integration_ids)
    server.state.latency = args.latency
    results: dict = {"size": len(integration_ids)}
    naive_ids = integration_ids[: args.naive_size]
    with override_settings(MEETINGBAAS_BASE_URL=server.url, MEETINGBAAS_API_KEY="bench-key"):
        meetingbaas._transport.cache_clear()
        for name, ids, work in (
            ("ours", integration_ids, sync_windows),
            ("naive", naive_ids, naive_sync),
        ):
            requests_before = server.state.request_count
            counter = QueryCounter()
            with connection.execute_wrapper(counter):
                started = time.perf_counter()
                outcome = work(ids)
                wall = time.perf_counter() - started
            results[name] = {
                "integrations": len(ids),
                "wall_s": round(wall, 1),
                "api_calls": server.state.request_count - requests_before,
                "sql_queries": counter.queries,
                "outcome": outcome,
            }
            server.state.requests.clear()
    results["meetings_held"] = Meeting.objects.filter(integration_id__in=integration_ids).count()
    meetingbaas._transport.cache_clear()
    server.stop()
    return results


def seed_connections(state, integration_ids: list[int]) -> None:
    """A synced sandbox connection for each integration, made directly (not 10,000 creates)."""
    from django.utils import timezone

    from calendars.models import Integration
    from sandbox.state import SandboxConnection

    now = timezone.now()
    for remote_id, email in Integration.objects.filter(pk__in=integration_ids).values_list(
        "remote_id", "credential__account_email"
    ):
        state.connections[remote_id] = SandboxConnection(
            id=remote_id,
            api_version="v2",
            platform="google",
            account_email=email,
            raw_calendar_id=email,
            calendar_name=email,
            created_at=now,
            sync_due_at=now,
            synced_at=now,
            sync_status="success",
            updated_at=now,
        )


def naive_sync(integration_ids: list[int]) -> dict[str, int]:
    """The baseline: GET each meeting the mirror holds, one request per event, and apply it."""
    from django.db import transaction
    from django.utils import timezone

    from calendars.meetingbaas import client
    from calendars.meetings import mirror
    from calendars.models import Integration, Meeting

    api = client("v2")
    fetched = 0
    for integration_id in integration_ids:
        as_of = mirror.whole_second(timezone.now())
        integration = Integration.objects.get(pk=integration_id)
        event_ids = Meeting.objects.filter(integration=integration).values_list(
            "remote_event_id", flat=True
        )
        events = [api.get_event(integration.remote_id, event_id) for event_id in event_ids]
        fetched += len(events)
        with transaction.atomic():
            integration = Integration.objects.select_for_update().get(pk=integration_id)
            mirror.apply_events(integration, events, as_of=as_of)
    return {"fetched": fetched}


# --- report ---------------------------------------------------------------------------------


def render(r: dict, args: argparse.Namespace) -> str:
    from django.db import connection

    engine = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}[connection.vendor]
    small, large = r["pages"]["small"], r["pages"]["large"]
    built = r["built"]
    lines = [
        f"## Meetings: {engine}, scale {args.scale:g}",
        "",
        f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.platform()}; load average {load_average()} at the end.",
        f"Data: bench.dataset at scale {args.scale:g} "
        f"({r['sizes']['integrations']:,} integrations, built in {built['base_s']:.0f} s), "
        f"then {small['meetings']:,} meetings "
        f"({built['meetings_small_s']:.0f} s) and {large['meetings']:,} in all "
        f"({built['meetings_large_s']:.0f} s more).",
    ]
    if "pages" in args.steps:
        lines += render_pages(small, large, args.repeat)
    if "webhooks" in r:
        lines += render_webhooks(r["webhooks"])
    if "sync" in r:
        lines += render_sync(r["sync"], args.latency)
    return "\n".join(lines) + "\n"


def load_average() -> str:
    return ", ".join(f"{load:.2f}" for load in os.getloadavg())


def render_pages(small: dict, large: dict, repeat: int) -> list[str]:
    lines = [
        "",
        f"| page ({repeat} requests) | median ms, {small['meetings']:,} meetings | p95 ms "
        f"| queries | median ms, {large['meetings']:,} meetings | p95 ms | queries "
        "| plain median ms | plain queries | ratio |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, many in large.items():
        if name == "meetings":
            continue
        few = small.get(name, {"median_ms": "—", "p95_ms": "—", "queries": "—"})
        lines.append(
            f"| {name} | {few['median_ms']} | {few['p95_ms']} | {few['queries']} "
            f"| {page_row(many)} |"
        )
    return lines


def render_webhooks(hooks: dict) -> list[str]:
    return [
        "",
        f"Webhook ingestion: {hooks['deliveries']:,} `calendar.events_synced` deliveries of 50 "
        f"events each ({hooks['events']:,} events, {hooks['created']:,} of them new meetings, the "
        "rest changes to held ones), posted to the receiver (Django's test client, one after the "
        f"other: {hooks['received_per_s']:,} deliveries/s, {hooks['receiver_queries']} SQL "
        f"queries each) while a django-q2 cluster of {hooks['workers']} workers processes them: "
        f"**{hooks['events_per_s']:,} events applied/s** ({hooks['wall_s']} s from the first "
        f"post to the last delivery applied; load average {hooks['load_before']} before, "
        f"{hooks['load_after']} after).",
    ]


def render_sync(sync: dict, latency: float) -> list[str]:
    ours, naive = sync["ours"], sync["naive"]
    factor = sync["size"] / naive["integrations"]
    return [
        "",
        f"Window sync of {sync['size']:,} integrations, the sandbox adding "
        f"{latency * 1000:.0f} ms to every API call ({sync['meetings_held']:,} meetings "
        "held afterwards):",
        "",
        "| window sync | integrations | wall s | API calls | SQL queries |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| ours (one listing per calendar) | {ours['integrations']:,} | {ours['wall_s']} "
        f"| {ours['api_calls']:,} | {ours['sql_queries']:,} |",
        f"| naive (one GET per meeting) | {naive['integrations']:,} | {naive['wall_s']} "
        f"| {naive['api_calls']:,} | {naive['sql_queries']:,} |",
        f"| naive, scaled to {sync['size']:,} | {sync['size']:,} | {naive['wall_s'] * factor:.0f} "
        f"| {naive['api_calls'] * factor:,.0f} | {naive['sql_queries'] * factor:,.0f} |",
        "",
        f"Speed-up over the naive baseline: **{naive['wall_s'] * factor / ours['wall_s']:.0f}x** "
        f"(sync outcome: {ours['outcome']}).",
    ]


if __name__ == "__main__":
    main()
