"""Benchmark of the meetings' history (issue 30): "Missed meetings" over 90 days of past meetings,
and the pruning of the history in short batches.

    .venv/bin/python -m bench.history --database-url postgres://postgres@127.0.0.1/portal_bench_history
    .venv/bin/python -m bench.history --scale 0.1      # SQLite: 1,000,000 meetings
    .venv/bin/python -m bench.history --database-url ... --reuse-data --steps prune
    .venv/bin/python -m bench.history --database-url ... --reuse-data --steps coverage

On top of bench.dataset's integrations (100,000 at --scale 1), each integration gets 100 past
meetings spread over the MEETINGS_HISTORY_DAYS (90) days, made by the database itself (one
INSERT ... SELECT; on PostgreSQL with the meetings' indexes dropped and made again after, which
is minutes faster than keeping them up row by row): 10,000,000 at --scale 1. Their outcomes
are spread as a history might have them: most recorded, some missed for every cause (bots
failed with each error code, no bot by policy, no URL, the calendar broken, cancelled, removed,
refused, not asked, no news). "Missed meetings" for yesterday (and the home page, whose lane
counts them) is timed with a tenth of the meetings, then with all of them: the query counts must
be the same. `coverage` counts the coverage report's days from the same meetings with the
portal's own pass (bench/coverage.py: the time a day costs the 5-minute pass) and times the
report for a customer's month and every customer's, at both sizes too. `prune` then adds
--prune-days days of meetings older than the history (with bot attempts, whose meeting is set to
NULL by the delete) and prunes them as the cluster does, timing every batch: each is one short
transaction, the longest of which is the longest time a lock on calendars_meeting is held.
`--reuse-data` measures on the data set the last run left (migrated first) without rebuilding
it. Prints Markdown.
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench.run import ROOT, bench_arguments, fresh_database, setup_django

MEETINGS_PER_INTEGRATION = 100
STEPS = ("missed", "coverage", "prune")
TITLES = ("Customer call", "Interview", "Quarterly planning", "Team standup", "Weekly sync")
PLATFORMS = ("google_meet", "zoom", "teams")
ERROR_CODES = (
    "MEETING_NOT_FOUND",
    "BOT_NOT_ACCEPTED",
    "WAITING_ROOM_TIMEOUT",
    "NO_ONE_JOINED",
    "BOT_REMOVED",
    "BOT_CRASHED",
)
# What became of a past meeting, by a hash of (integration, meeting) in 0..99: the upper bound
# of its band, its outcome and its cause. 74 % recorded; the rest missed, for every cause.
OUTCOME_BANDS = (
    (62, "recorded", ""),
    (68, "bot_failed", "bot_error"),
    (74, "no_bot", "policy"),
    (77, "no_bot", "no_url"),
    (80, "no_bot", "calendar_broken"),
    (82, "no_bot", "cancelled"),
    (83, "no_bot", "removed"),
    (84, "no_bot", "refused"),
    (86, "no_bot", "not_asked"),
    (88, "no_news", ""),
    (100, "recorded", ""),
)


def main() -> None:
    parser = bench_arguments(__doc__, "bench-history", scale=1.0)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument(
        "--prune-days", type=float, default=1.0, help="days of meetings older than the history"
    )
    parser.add_argument("--reuse-data", action="store_true")
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
        setup_django(args.database_url)
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
    else:
        fresh_database(args.database_url)
    print(render(measure_all(args), args))


def measure_all(args: argparse.Namespace) -> dict:
    results: dict = {"pages": {}, "built": {}, "coverage": {}}
    if not args.reuse_data:
        from bench import dataset
        from bench.meetings import add_policies

        started = time.perf_counter()
        dataset.build(args.scale)
        add_policies()
        results["built"]["base_s"] = time.perf_counter() - started
        for share, label in ((0, "small"), (None, "large")):
            started = time.perf_counter()
            add_past_meetings(share)
            results["built"][f"{label}_s"] = time.perf_counter() - started
            measure_size(results, label, args)
    else:
        measure_size(results, "large", args)
    if "prune" in args.steps:
        results["prune"] = prune(args.prune_days)
    results["outcomes"] = outcome_spread()
    return results


def measure_size(results: dict, label: str, args: argparse.Namespace) -> None:
    """The pages (and the coverage report's counting) on the meetings held now."""
    from bench import coverage
    from bench.meetings import meeting_count

    meetings = meeting_count()
    timed = missed_pages(signed_in_client(), args.repeat) if "missed" in args.steps else {}
    results["pages"][label] = {"meetings": meetings, **timed}
    if "coverage" in args.steps:
        results["coverage"][label] = {"meetings": meetings, **coverage.child(args.repeat)}


# --- data -----------------------------------------------------------------------------------


def add_past_meetings(share: int | None) -> None:
    """100 past meetings per integration over the history's days: those whose id ends in
    `share`, or the others."""
    from django.db import connection

    from calendars.models import Meeting

    picked = "= 0" if share == 0 else "<> 0"
    sql = past_meetings_sql(f"i.id %% 10 {picked}")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with _without_indexes(cursor, Meeting._meta.db_table, share is None):
                cursor.execute(sql, _now_params(sql))
            # Vacuumed as autovacuum would, in time: the counts read the index alone only where
            # the table's pages are known to be all visible.
            cursor.execute(f"VACUUM (ANALYZE) {Meeting._meta.db_table}")
        else:
            cursor.execute(sql, _now_params(sql))
            cursor.execute("ANALYZE")


def _now_params(sql: str) -> list[object]:
    """The current minute, for each parameter of `sql`."""
    from django.db import connection
    from django.utils import timezone

    now = timezone.now().replace(second=0, microsecond=0)
    value = now if connection.vendor == "postgresql" else now.strftime("%Y-%m-%d %H:%M:%S")
    return [value] * sql.count("%s")


def past_meetings_sql(where: str, *, minutes_ago: str = "") -> str:
    """INSERT ... SELECT of 100 past meetings per integration `where` says (its parameters:
    the current minute, `_now_params`). They begin 31 minutes to MEETINGS_HISTORY_DAYS ago, one
    per 1/100th of the history each, at a time of their own in it; `minutes_ago` replaces
    when they began (an SQL expression of i.id and k.k, in minutes)."""
    from django.conf import settings
    from django.db import connection

    from calendars.models import Integration, Meeting

    slot = settings.MEETINGS_HISTORY_DAYS * 24 * 60 // MEETINGS_PER_INTEGRATION - 1
    minutes_ago = minutes_ago or f"(31 + k.k * {slot} + (i.id * 7919 + k.k * 2039) %% {slot})"
    if connection.vendor == "postgresql":
        new_id = "gen_random_uuid()"
        moment = "(%s::timestamptz - ({}) * interval '1 minute')"
    else:
        new_id = "lower(hex(randomblob(16)))"
        moment = "datetime(%s, '-' || ({}) || ' minutes')"
    starts = moment.format(minutes_ago)
    ends = moment.format(f"{minutes_ago} - 30")
    joined = moment.format(f"{minutes_ago} - 1")
    mix = "((i.id * 31 + k.k * 17) %% 100)"
    outcome = _banded(mix, 1)
    cause = _banded(mix, 2)
    titles = " ".join(f"WHEN {n} THEN '{title}'" for n, title in enumerate(TITLES))
    platforms = " ".join(f"WHEN {n} THEN '{p}'" for n, p in enumerate(PLATFORMS))
    errors = " ".join(f"WHEN {n} THEN '{code}'" for n, code in enumerate(ERROR_CODES))
    error = f"CASE i.id %% {len(ERROR_CODES)} {errors} END"
    no_url = f"{mix} >= 74 AND {mix} < 77"
    failed = f"{mix} >= 62 AND {mix} < 68"
    recorded = f"({mix} < 62 OR {mix} >= 88)"
    bot = f"({recorded} OR {failed} OR ({mix} >= 86 AND {mix} < 88))"
    # (%% is the modulo: the SQL carries parameters.)
    return f"""
        WITH RECURSIVE ks(k) AS (
            SELECT 0 UNION ALL SELECT k + 1 FROM ks WHERE k < {MEETINGS_PER_INTEGRATION - 1}
        )
        INSERT INTO {Meeting._meta.db_table} (
            integration_id, remote_event_id, series_id, title, starts_at, ends_at, meeting_url,
            platform, is_cancelled, is_recurring, organizer_email, has_bot, bot_summary,
            bot_failure, synced_at, bot_status, bot_status_at, bot_joined_at, bot_exited_at,
            bot_duration_seconds, bot_error_code, bot_error_message, outcome, outcome_at,
            outcome_cause, outcome_reason
        )
        SELECT
            i.id, {new_id}, '',
            CASE (i.id + k.k) %% {len(TITLES)} {titles} END || ' ' || i.id,
            {starts}, {ends},
            CASE WHEN {no_url} THEN '' ELSE 'https://meet.example/h-' || i.id || '-' || k.k END,
            CASE WHEN {no_url} THEN 'none' ELSE CASE i.id %% 3 {platforms} END END,
            {mix} >= 80 AND {mix} < 82, k.k %% 2 = 0, 'organizer' || i.id || '@example.com',
            {bot}, CASE WHEN {bot} THEN 'Notetaker' ELSE '' END,
            CASE WHEN {mix} = 83 THEN 'BOT_LIMIT: too many bots' ELSE '' END,
            {starts},
            CASE WHEN {recorded} THEN 'completed' WHEN {failed} THEN 'failed' ELSE '' END,
            CASE WHEN {recorded} OR {failed} THEN {ends} END,
            CASE WHEN {recorded} THEN {joined} END,
            CASE WHEN {recorded} OR {failed} THEN {ends} END,
            CASE WHEN {recorded} THEN 1740 END,
            CASE WHEN {failed} THEN {error} ELSE '' END,
            CASE WHEN {failed} THEN 'The bot could not stay in the meeting.' ELSE '' END,
            {outcome}, {ends}, {cause},
            CASE WHEN {recorded} THEN 'The bot joined and recorded for 29 minutes.'
                 WHEN {failed} THEN 'The bot failed (' || {error} || ').'
                 ELSE 'Missed (synthetic history).' END
        FROM {Integration._meta.db_table} i CROSS JOIN ks k
        WHERE {where}
    """


def _banded(mix: str, column: int) -> str:
    """The CASE picking OUTCOME_BANDS' `column` (1: outcome, 2: cause) by `mix`."""
    whens = " ".join(f"WHEN {mix} < {band[0]} THEN '{band[column]}'" for band in OUTCOME_BANDS)
    return f"CASE {whens} END"


class _without_indexes:
    """On PostgreSQL, drop a table's indexes and unique constraints (not its primary key) for a
    big insert, and make them again after it (when `drop` is true; else nothing)."""

    def __init__(self, cursor, table: str, drop: bool) -> None:
        self.cursor, self.table, self.drop = cursor, table, drop
        self.constraints: list[tuple[str, str]] = []
        self.indexes: list[tuple[str, str]] = []

    def __enter__(self) -> None:
        if not self.drop:
            return
        cursor = self.cursor
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'u'",
            [self.table],
        )
        self.constraints = cursor.fetchall()
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint "
            "WHERE conrelid = %s::regclass)",
            [self.table, self.table],
        )
        self.indexes = cursor.fetchall()
        for name, _ in self.constraints:
            cursor.execute(f'ALTER TABLE {self.table} DROP CONSTRAINT "{name}"')
        for name, _ in self.indexes:
            cursor.execute(f'DROP INDEX "{name}"')

    def __exit__(self, *exc: object) -> None:
        cursor = self.cursor
        cursor.execute("SET maintenance_work_mem = '1GB'")
        for _, definition in self.indexes:
            cursor.execute(definition)
        for name, definition in self.constraints:
            cursor.execute(f'ALTER TABLE {self.table} ADD CONSTRAINT "{name}" {definition}')
        cursor.execute("RESET maintenance_work_mem")


def outcome_spread() -> dict[str, int]:
    from django.db.models import Count

    from calendars.models import Meeting

    rows = (
        Meeting.objects.order_by().values_list("outcome", "outcome_cause").annotate(n=Count("pk"))
    )
    return {f"{outcome} {cause}".strip(): n for outcome, cause, n in rows}


# --- pages ----------------------------------------------------------------------------------


def signed_in_client():
    """A client signed in as the benchmark's superuser (made by the first run)."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from bench.meetings import admin_client

    user = get_user_model().objects.filter(username="bench").first()
    if user is None:
        return admin_client()
    client = Client()
    client.force_login(user)
    return client


def missed_pages(client, repeat: int) -> dict:
    from django.urls import reverse
    from django.utils import timezone

    from bench.measure import timed_pages
    from calendars.queries.missed import yesterday

    day = yesterday(timezone.now()).first.isoformat()
    missed = reverse("admin:calendars_meeting_missed")
    return timed_pages(
        client,
        {
            "Missed meetings, yesterday": f"{missed}?start={day}&end={day}",
            "Missed meetings (default: yesterday and today)": missed,
            "Missed meetings, yesterday, one cause (bot failed)": (
                f"{missed}?start={day}&end={day}&cause=bot_error"
            ),
            "admin home (with the missed-yesterday lane)": reverse("admin:index"),
        },
        repeat,
    )


# --- pruning --------------------------------------------------------------------------------


def prune(days: float) -> dict:
    """Meetings older than the history (`days` of them, with a bot attempt for one in ten),
    pruned by the cluster's code, every batch timed."""
    from django.conf import settings
    from django.db import connection, transaction

    from calendars.meetings import mirror
    from calendars.models import BotAttempt, Meeting

    history = settings.MEETINGS_HISTORY_DAYS * 24 * 60
    span = int(days * 24 * 60)
    # Beyond the history: one meeting per integration every span / 1.1 minutes (1.1 a day).
    per_integration = max(1, round(days * 1.1))
    ago = f"({history + 60} + (i.id * 7919 + k.k * 2039) %% {span})"
    sql = past_meetings_sql(f"k.k < {per_integration}", minutes_ago=ago)
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, _now_params(sql))
        old = Meeting.objects.filter(starts_at__lt=_history_start())
        cursor.execute(
            f"""
            INSERT INTO {BotAttempt._meta.db_table} (
                meeting_id, integration_id, remote_event_id, meeting_title, meeting_starts_at,
                action, username, at, succeeded, message
            )
            SELECT id, integration_id, remote_event_id, title, starts_at, 'policy', 'policy',
                   starts_at, {"true" if connection.vendor == "postgresql" else "1"}, ''
            FROM {Meeting._meta.db_table} WHERE starts_at < %s AND id %% 10 = 0
            """,
            [_history_start()],
        )
    added = old.count()
    attempts = BotAttempt.objects.filter(meeting__in=old).count()
    built_s = time.perf_counter() - started
    statements: list[float] = []
    batches: list[float] = []

    def timed_statement(execute, sql, params, many, context):
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            statements.append(time.perf_counter() - began)

    delete = mirror._delete

    def timed_delete(meetings: object) -> int:
        began = time.perf_counter()
        try:
            return delete(meetings)
        finally:
            batches.append(time.perf_counter() - began)

    mirror._delete = timed_delete
    started = time.perf_counter()
    pruned = 0
    try:
        with connection.execute_wrapper(timed_statement):
            while True:
                done = mirror.prune_history()
                pruned += done
                if done == 0:
                    break
    finally:
        mirror._delete = delete
    wall = time.perf_counter() - started
    assert pruned == added, (pruned, added)
    assert BotAttempt.objects.filter(meeting=None).count() >= attempts
    return {
        "pruned": pruned,
        "attempts": attempts,
        "built_s": round(built_s, 1),
        "wall_s": round(wall, 1),
        "per_s": round(pruned / wall),
        "batches": len(batches),
        "batch_rows": mirror.PRUNE_BATCH,
        "batch_max_ms": round(max(batches) * 1000, 1),
        "batch_median_ms": round(statistics.median(batches) * 1000, 1),
        "statement_max_ms": round(max(statements) * 1000, 1),
        "meetings_left": Meeting.objects.count(),
    }


def _history_start():
    from calendars.meetings.outcomes import history_start

    return history_start()


# --- report ---------------------------------------------------------------------------------


def render(r: dict, args: argparse.Namespace) -> str:
    from django.db import connection

    engine = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}[connection.vendor]
    lines = [f"## Meetings' history: {engine}, scale {args.scale:g}", ""]
    if r["built"]:
        built = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in r["built"].items())
        lines += [f"Built in: {built}.", ""]
    elif args.reuse_data:
        lines += ["On the data set an earlier run built (--reuse-data).", ""]
    spread = ", ".join(f"{name or 'not judged'} {n:,}" for name, n in sorted(r["outcomes"].items()))
    lines += [f"Outcomes held: {spread}.", ""]
    sizes = [label for label in ("small", "large") if r["pages"].get(label)]
    if sizes and len(r["pages"][sizes[0]]) > 1:
        header = " | ".join(f"{r['pages'][s]['meetings']:,} meetings" for s in sizes)
        lines += [
            f"| page (median / p95 ms, queries) | {header} |",
            "| --- |" + " ---: |" * len(sizes),
        ]
        names = [name for name in r["pages"][sizes[-1]] if name != "meetings"]
        for name in names:
            cells = []
            for size in sizes:
                t = r["pages"][size][name]
                cells.append(f"{t['median_ms']} / {t['p95_ms']}, {t['queries']}")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += render_coverage(r["coverage"])
    if "prune" in r:
        p = r["prune"]
        lines.append(
            f"Pruning: {p['pruned']:,} meetings older than the history ({p['attempts']:,} with a "
            f"bot attempt, kept with its meeting set to NULL) among {p['meetings_left']:,} kept, "
            f"in {p['batches']} batches of {p['batch_rows']:,} at most, each its own "
            f"transaction: **longest batch {p['batch_max_ms']} ms** (median "
            f"{p['batch_median_ms']} ms; longest statement {p['statement_max_ms']} ms), "
            f"{p['per_s']:,} meetings/s ({p['wall_s']} s).\n"
        )
    return "\n".join(lines)


def render_coverage(by_size: dict) -> list[str]:
    """The coverage report's counting and pages at each size measured."""
    if not by_size:
        return []
    lines = []
    for c in by_size.values():
        fill = c["fill"]
        lines.append(
            f"Coverage report, {c['meetings']:,} meetings: counted {fill['days']} days in "
            f"{fill['seconds']} s (**{fill['ms_per_day']} ms a day**, each day's cost in the "
            "5-minute pass)."
        )
    header = " | ".join(f"{c['meetings']:,} meetings" for c in by_size.values())
    lines += [
        "",
        f"| coverage report, last full month (median / p95 ms, queries) | {header} |",
        "| --- |" + " ---: |" * len(by_size),
    ]
    for name in list(by_size.values())[-1]["pages"]:
        cells = []
        for c in by_size.values():
            t = c["pages"][name]
            cells.append(f"{t['median_ms']} / {t['p95_ms']}, {t['queries']}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return [*lines, ""]


if __name__ == "__main__":
    main()
