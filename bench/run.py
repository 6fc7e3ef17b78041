#!/usr/bin/env python
"""Benchmark: build a synthetic data set, measure the portal, print a table of figures.

    .venv/bin/python bench/run.py                 # default scale, SQLite (var/bench-*.sqlite3)
    .venv/bin/python bench/run.py --scale 0.1     # smaller; --scale 2 for larger
    DATABASE_URL=postgres://postgres@127.0.0.1/portal_bench .venv/bin/python bench/run.py
    .venv/bin/python bench/run.py --write docs/performance.md
    DATABASE_URL=... .venv/bin/python bench/run.py --scale 10 --steps webhooks   # pages, webhooks
    DATABASE_URL=... .venv/bin/python bench/run.py --scale 10 --steps pages --reuse-data

Each measurement runs in a child process (so its peak memory is its own) against a database
of its own; the databases are rebuilt on every run, but for --reuse-data, which measures the
pages again on the data set the last run left (migrated first: after a change, without the
rebuild). Last, the `meetings` step runs
`python -m bench.meetings` (bench/meetings.py) at the same scale on the pages' database and
appends its figures to the report; on PostgreSQL, `python -m bench.shared_meetings`
(bench/shared_meetings.py: events_synced ingestion with one bot per meeting) does too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WEBHOOK_SECRET = "whsec_YmVuY2gtd2ViaG9vay1zZWNyZXQtbm90LXNlY3JldA=="


# --- children ------------------------------------------------------------------------------


def setup_django(database_url: str) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DATABASE_URL": database_url,
            "DEBUG": "true",
            "MEETINGBAAS_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "LOG_LEVEL": "WARNING",
            "ALLOWED_HOSTS": "localhost,127.0.0.1,testserver",
        }
    )
    import django

    django.setup()


def bench_arguments(doc: str | None, database: str, scale: float) -> argparse.ArgumentParser:
    """The options every benchmark script starts with: its scale, and its database (by default
    DATABASE_URL, else `var/<database>.sqlite3`)."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=scale)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL")
        or f"sqlite:///{ROOT / 'var' / f'{database}.sqlite3'}",
    )
    return parser


@contextmanager
def admin_connection(database_url: str) -> Iterator[tuple[object, str]]:
    """A connection to the PostgreSQL server's `postgres` database (autocommit, to make and
    drop databases), and the name of the database `database_url` names."""
    import environ
    import psycopg

    db = environ.Env.db_url_config(database_url)
    with psycopg.connect(
        dbname="postgres",
        user=db["USER"],
        password=db["PASSWORD"] or None,
        host=db["HOST"] or None,
        autocommit=True,
    ) as admin:
        yield admin, db["NAME"]


def fresh_database(database_url: str) -> None:
    """Drop and re-create the benchmark database, then migrate it."""
    if database_url.startswith("sqlite"):
        path = Path(database_url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    else:
        with admin_connection(database_url) as (admin, name):
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}"')
    setup_django(database_url)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def child_ui(args: argparse.Namespace) -> dict:
    if args.reuse_data:
        return _measure_again(args)
    fresh_database(args.db)
    from django.test import override_settings

    from bench import dataset, measure

    started = time.perf_counter()
    sizes = dataset.build(args.scale)
    built = time.perf_counter() - started
    print(f"... data set built in {built:.1f} s", file=sys.stderr, flush=True)
    # The home page must not wait for statistics: measured straight after the load.
    home = measure.timed_pages(measure.bench_client(), {"home": "/admin/"}, args.repeat)["home"]
    started = time.perf_counter()
    dataset.analyze()
    analyzed = time.perf_counter() - started
    with override_settings(ROOT_URLCONF="bench.urls"):
        pages = measure.pages(sizes["heavy_integration"], args.repeat)
        beside = measure.home_beside_list(args.repeat * 2)
    return {
        "sizes": sizes,
        "build_s": round(built, 1),
        "analyze_s": round(analyzed, 1),
        "home_before_analyze": home,
        "pages": pages,
        "home_beside_list": beside,
    }


def _measure_again(args: argparse.Namespace) -> dict:
    """The pages again on the data set an earlier run left (migrated to the code as it is
    now), without the rebuild: at scale 10 that takes ten minutes or more."""
    setup_django(args.db)
    from django.core.management import call_command
    from django.test import override_settings

    from bench import dataset, measure
    from calendars.models import Integration

    call_command("migrate", verbosity=0)
    sizes = dataset.sizes_at(args.scale)
    # The first integration the build made holds the long history.
    heavy = Integration.objects.order_by("pk").values_list("pk", flat=True).first()
    if heavy is None:
        raise SystemExit(f"--reuse-data: no data set in {args.db}; run once without it")
    with override_settings(ROOT_URLCONF="bench.urls"):
        pages = {} if args.home_only else measure.pages(heavy, args.repeat)
        beside = measure.home_beside_list(args.repeat * 2)
    return {"sizes": sizes, "reused": True, "pages": pages, "home_beside_list": beside}


def child_refresh(args: argparse.Namespace) -> dict:
    fresh_database(args.db)
    from django.db import connection
    from django.test import override_settings
    from django.utils import timezone

    from bench.measure import QueryCounter, peak_rss_mb
    from calendars import meetingbaas
    from calendars.actions.refresh import refresh_all
    from calendars.models import Credential, Customer, Integration, OAuthApp, RawCalendar
    from sandbox import SandboxServer
    from sandbox.accounts import account_for
    from sandbox.state import SandboxState

    server = SandboxServer(state=SandboxState(api_key="bench-key", sync_delay=0)).start()
    state = server.state
    customer = Customer.objects.create(name="Bench")
    app = OAuthApp.objects.create(provider="google", name="Bench", client_id="c", client_secret="s")
    now = timezone.now()
    ids = []
    for n in range(args.size):
        account = account_for("google", "s", f"rt:user{n}@bench.example")
        remote = state.create("v2", account, account.email)
        credential = Credential.objects.create(
            customer=customer, oauth_app=app, account_email=account.email, refresh_token="rt"
        )
        raw = RawCalendar.objects.create(
            credential=credential, provider_id=account.email, listed_at=now
        )
        ids.append(
            Integration.objects.create(
                credential=credential,
                raw_calendar=raw,
                remote_id=remote.id,
                api_version="v2",
                provider="google",
                status="active",
            ).pk
        )
    state.settle_all()
    for connection_ in list(state.connections.values())[: args.size // 50]:  # 2% changed remotely
        state.force(str(connection_.id), {"status": "error", "status_message": "quota"})
    state.latency = args.latency
    results = {"size": args.size, "changed_remotely": args.size // 50}
    with override_settings(MEETINGBAAS_BASE_URL=server.url, MEETINGBAAS_API_KEY="bench-key"):
        for name, work in (
            ("ours", lambda: refresh_all("v2")),
            ("naive", lambda: _naive_refresh(ids)),
        ):
            if name == "naive" and args.skip_naive:
                continue
            requests_before = state.request_count
            counter = QueryCounter()
            with connection.execute_wrapper(counter):
                started = time.perf_counter()
                work()
                wall = time.perf_counter() - started
            results[name] = {
                "wall_s": round(wall, 2),
                "api_calls": state.request_count - requests_before,
                "sql_queries": counter.queries,
                "rows_written": counter.rows_written,
            }
            state.requests.clear()
    meetingbaas._transport.cache_clear()
    server.stop()
    results["peak_rss_mb"] = round(peak_rss_mb(), 1)
    return results


def _naive_refresh(ids: list[int]) -> None:
    """The baseline: one GET and one save per integration."""
    from calendars import meetingbaas
    from calendars.models import Integration

    client = meetingbaas.client("v2")
    for integration in Integration.objects.filter(pk__in=ids).iterator():
        remote = client.get_connection(integration.remote_id)
        integration.status = remote.portal_status
        integration.remote_status = remote.status or ""
        integration.save()


def child_webhooks(args: argparse.Namespace) -> dict:
    setup_django(args.db)
    import requests

    from bench.measure import run_senders, signed_delivery
    from calendars.models import Integration

    remote_ids = [str(r) for r in Integration.objects.values_list("remote_id", flat=True)[:1000]]
    port = 8791
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings"}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "portal.wsgi:application",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(args.workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    session_per_thread = {}
    try:
        _wait_for_port(port)

        def send(n: int) -> float:
            import threading

            session = session_per_thread.setdefault(threading.get_ident(), requests.Session())
            body, headers = signed_delivery(WEBHOOK_SECRET, remote_ids[n % len(remote_ids)])
            started = time.perf_counter()
            response = session.post(
                f"http://127.0.0.1:{port}/webhooks/meetingbaas/",
                data=body,
                headers=headers,
                timeout=30,
            )
            elapsed = time.perf_counter() - started
            assert response.status_code == 200, response.text
            return elapsed

        for n in range(50):  # warm up every worker
            send(n)
        result = run_senders(send, args.deliveries, 8)
        result["gunicorn_workers"] = args.workers
        return result
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wait_for_port(port: int) -> None:
    import socket

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


def child_export(args: argparse.Namespace) -> dict:
    setup_django(args.db)
    import csv

    from bench.measure import peak_rss_mb
    from calendars.models import StatusChange
    from calendars.queries.history import csv_rows, export_entries

    changes = StatusChange.objects.order_by("changed_at").values_list("changed_at", flat=True)
    total = changes.count()
    start = changes[max(0, total - args.rows)].date() if args.rows < total else None
    writer = csv.writer(open(os.devnull, "w"))  # noqa: SIM115
    rows = 0
    started = time.perf_counter()
    for row in csv_rows(export_entries(start=start)):
        writer.writerow(row)
        rows += 1
    return {
        "rows": rows - 1,
        "seconds": round(time.perf_counter() - started, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def child_reconciliation(args: argparse.Namespace) -> dict:
    from bench import reconciliation

    return reconciliation.child(args, fresh_database)


def child_coverage(args: argparse.Namespace) -> dict:
    setup_django(args.db)
    from bench import coverage

    return coverage.child(args.repeat)


# The measurements besides the pages (which every run takes, on the data set it builds).
STEPS = (
    "refresh",
    "webhooks",
    "export",
    "reconciliation",
    "meetings",
    "coverage",
    "shared_meetings",
)
CHILDREN = {
    "ui": child_ui,
    "refresh": child_refresh,
    "webhooks": child_webhooks,
    "export": child_export,
    "reconciliation": child_reconciliation,
    "coverage": child_coverage,
}


# --- orchestration -------------------------------------------------------------------------


def run_child(name: str, **options: object) -> dict:
    argv = [sys.executable, __file__, "--child", name]
    for key, value in options.items():
        if value is True:
            argv.append(f"--{key.replace('_', '-')}")
        elif value is not False:
            argv += [f"--{key.replace('_', '-')}", str(value)]
    print(f"... {name} {options}", file=sys.stderr, flush=True)
    # The child's stderr (its progress, its errors) passes through; stdout is its result.
    output = subprocess.run(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=False)
    if output.returncode != 0:
        sys.stderr.write(output.stdout)
        raise SystemExit(f"benchmark step {name} failed")
    return json.loads(output.stdout.strip().splitlines()[-1])


def cpu_reference_ms() -> float:
    """A fixed piece of pure Python, timed (median of 3): on a shared virtual machine the CPU's
    speed can change twofold from one minute to the next, and a page's time with it."""
    times = []
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for n in range(3_000_000):
            total += n * n
        times.append((time.perf_counter() - started) * 1000)
    return round(sorted(times)[1])


def database_urls() -> tuple[str, str, str]:
    base = os.environ.get("DATABASE_URL", "")
    if base.startswith("postgres"):
        return base, base + "_refresh", "PostgreSQL"
    var = ROOT / "var"
    var.mkdir(exist_ok=True)
    return (
        f"sqlite:///{var / 'bench-ui.sqlite3'}",
        f"sqlite:///{var / 'bench-refresh.sqlite3'}",
        "SQLite",
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--child", choices=CHILDREN)
    parser.add_argument("--db")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument(
        "--size", type=int, default=10_000, help="integrations in the refresh benchmark"
    )
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--deliveries", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--write", help="also write the report to this Markdown file")
    parser.add_argument(
        "--reuse-data",
        action="store_true",
        help="measure the pages on the data set an earlier run left, without rebuilding it",
    )
    parser.add_argument(
        "--home-only",
        action="store_true",
        help="with --reuse-data: only the home page beside the integrations list, alternating",
    )
    parser.add_argument(
        "--connections", type=int, default=100_000, help="remote connections to reconcile"
    )
    parser.add_argument(
        "--reconciliation", action="store_true", help="measure the reconciliation only"
    )
    parser.add_argument(
        "--kills",
        type=int,
        default=0,
        help="with --reconciliation: run it in a real cluster killed this many times, at "
        "--connections only",
    )
    parser.add_argument(
        "--steps",
        default=",".join(STEPS),
        help=f"which measurements to run, comma-separated (default: all of {', '.join(STEPS)})",
    )
    args = parser.parse_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child](args), default=str))
        return
    steps = set(args.steps.split(","))
    ui_db, refresh_db, engine = database_urls()
    if args.reconciliation:
        print(reconciliation_report(refresh_db, args))
        return
    results = {
        "engine": engine,
        "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.platform()}",
        "cpu_before_ms": cpu_reference_ms(),
        "load_before": os.getloadavg()[0],
    }
    if "refresh" in steps:
        results["refresh"] = run_child(
            "refresh", db=refresh_db, size=args.size, latency=args.latency
        )
        results["refresh_small"] = run_child(
            "refresh", db=refresh_db, size=args.size // 5, latency=args.latency, skip_naive=True
        )
    results["ui"] = run_child(
        "ui",
        db=ui_db,
        scale=args.scale,
        repeat=args.repeat,
        reuse_data=args.reuse_data,
        home_only=args.home_only,
    )
    results["cpu_after_ms"] = cpu_reference_ms()
    results["load_after"] = os.getloadavg()[0]
    if "webhooks" in steps:
        results["webhooks"] = run_child(
            "webhooks", db=ui_db, deliveries=args.deliveries, workers=args.workers
        )
    if "export" in steps:
        status_changes = results["ui"]["sizes"]["status_changes"]
        results["export_small"] = run_child("export", db=ui_db, rows=status_changes // 10)
        results["export"] = run_child("export", db=ui_db, rows=status_changes)
    report = render(results, args)
    if "reconciliation" in steps:
        report += reconciliation_report(refresh_db, args)
    print(report, flush=True)
    if "meetings" in steps:
        meetings = meetings_report(ui_db, args)
        print(meetings)
        report += "\n" + meetings
    if "coverage" in steps:
        # On the meetings the meetings step left in the same database.
        from bench import coverage

        figures = coverage.render(run_child("coverage", db=ui_db, repeat=args.repeat))
        print(figures)
        report += figures
    if "shared_meetings" in steps and engine == "PostgreSQL":
        # Last: it rebuilds the database.
        shared = module_report("shared_meetings", ui_db, ["--scale", str(args.scale)])
        print(shared)
        report += "\n" + shared
    if args.write:
        Path(args.write).write_text(report)


def reconciliation_report(db: str, args: argparse.Namespace) -> str:
    from bench import reconciliation

    if args.kills:
        result = run_child(
            "reconciliation",
            db=db,
            connections=args.connections,
            latency=args.latency,
            kills=args.kills,
        )
        return reconciliation.render_killed(result, args.latency)
    small, large = (
        run_child("reconciliation", db=db, connections=n, latency=args.latency)
        for n in (args.connections // 10, args.connections)
    )
    return reconciliation.render(small, large, args.latency)


def meetings_report(db: str, args: argparse.Namespace) -> str:
    """bench/meetings.py's figures at the same scale, on `db` (rebuilt for them)."""
    options = ["--scale", str(args.scale), "--repeat", str(args.repeat)]
    return module_report("meetings", db, [*options, "--latency", str(args.latency)])


def module_report(name: str, db: str, options: list[str]) -> str:
    """The figures `python -m bench.<name>` prints, on `db` (rebuilt for them)."""
    argv = [sys.executable, "-m", f"bench.{name}", "--database-url", db, *options]
    print(f"... {name} {argv[3:]}", file=sys.stderr, flush=True)
    output = subprocess.run(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=False)
    if output.returncode != 0:
        sys.stderr.write(output.stdout)
        raise SystemExit(f"benchmark step {name} failed")
    return output.stdout


def render(r: dict, args: argparse.Namespace) -> str:
    ui = r["ui"]
    sizes = ", ".join(
        f"{value:,} {name.replace('_', ' ')}"
        for name, value in ui["sizes"].items()
        if name != "heavy_integration"
    )
    lines = [
        f"## {r['engine']}, scale {args.scale:g}",
        "",
        f"Machine: {r['machine']}. CPU reference (a fixed Python loop; lower is faster): "
        f"{r['cpu_before_ms']} ms before the pages, {r['cpu_after_ms']} ms after; load average "
        f"(1 min) {r['load_before']:.1f} before, {r['load_after']:.1f} after.",
    ]
    if ui.get("reused"):
        lines += [f"Data: {sizes}, as an earlier run built it (--reuse-data).", ""]
    else:
        home = ui["home_before_analyze"]
        analyzed = f"; VACUUM ANALYZE {ui['analyze_s']} s" if r["engine"] == "PostgreSQL" else ""
        lines += [
            f"Data: {sizes} (built in {ui['build_s']} s{analyzed}).",
            "",
            f"Home page straight after the load, before any ANALYZE: median "
            f"{home['median_ms']} ms, p95 {home['p95_ms']} ms, {home['queries']} queries.",
            "",
        ]
    if not ui["pages"]:  # --home-only
        return "\n".join(lines + _render_beside(ui, args)[1:]) + "\n"
    lines += [
        f"Pages ({args.repeat} requests each), beside a plain ModelAdmin on the same rows:",
        "",
        "| page | median ms | p95 ms | SQL queries | plain median ms | plain queries | ratio |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, p in ui["pages"].items():
        plain = p.get("plain")
        if plain:
            ratio = f"{p['median_ms'] / plain['median_ms']:.2f}x"
            theirs = f"{plain['median_ms']} | {plain['queries']} | {ratio}"
        else:
            theirs = "— | — | —"
        lines.append(f"| {name} | {p['median_ms']} | {p['p95_ms']} | {p['queries']} | {theirs} |")
    lines += _render_beside(ui, args)
    if "refresh" in r:
        lines += _render_refresh(r, args)
    if "webhooks" in r:
        hooks = r["webhooks"]
        lines += [
            "",
            f"Webhook ingestion (gunicorn, {hooks['gunicorn_workers']} workers, "
            f"{hooks['senders']} concurrent senders, {hooks['deliveries']:,} deliveries): "
            f"**{hooks['per_second']} deliveries/s**, p50 {hooks['p50_ms']} ms, "
            f"p99 **{hooks['p99_ms']} ms**.",
        ]
    if "export" in r:
        export, export_small = r["export"], r["export_small"]
        lines += [
            "",
            f"CSV export of {export['rows']:,} rows: {export['seconds']} s; peak memory "
            f"{export_small['peak_rss_mb']} MB for {export_small['rows']:,} rows, "
            f"{export['peak_rss_mb']} MB for {export['rows']:,} "
            f"(+{export['peak_rss_mb'] - export_small['peak_rss_mb']:.1f} MB).",
        ]
    return "\n".join(lines) + "\n"


def _render_beside(ui: dict, args: argparse.Namespace) -> list[str]:
    home, listed = ui["home_beside_list"]["home page"], ui["home_beside_list"]["integrations"]
    return [
        "",
        f"Home page beside the integrations list, alternating request by request "
        f"({args.repeat * 2} each): home {home['median_ms']} ms (p95 {home['p95_ms']}, "
        f"{home['queries']} queries), list {listed['median_ms']} ms (p95 {listed['p95_ms']}, "
        f"{listed['queries']} queries): **{home['median_ms'] / listed['median_ms']:.2f}x**.",
    ]


def _render_refresh(r: dict, args: argparse.Namespace) -> list[str]:
    refresh, small = r["refresh"], r["refresh_small"]
    lines = [
        "",
        f"Refresh of {refresh['size']:,} integrations ({refresh['changed_remotely']} changed "
        f"remotely), the sandbox adding {args.latency * 1000:.0f} ms to every API call:",
        "",
        "| refresh | wall s | API calls | SQL queries | rows written |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name in ("ours", "naive"):
        if name in refresh:
            x = refresh[name]
            lines.append(
                f"| {name} | {x['wall_s']} | {x['api_calls']:,} | {x['sql_queries']:,} "
                f"| {x['rows_written']:,} |"
            )
    if "naive" in refresh:
        speedup = refresh["naive"]["wall_s"] / refresh["ours"]["wall_s"]
        lines.append(f"\nSpeed-up over the naive baseline: **{speedup:.0f}x**.")
    lines.append(
        f"\nPeak memory of the refresh: {small['peak_rss_mb']} MB for {small['size']:,} "
        f"integrations, {refresh['peak_rss_mb']} MB for {refresh['size']:,}."
    )
    return lines


if __name__ == "__main__":
    main()
