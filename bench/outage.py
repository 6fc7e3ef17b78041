"""Meeting BaaS down for an hour, the clock compressed: what the portal sends, what it catches up.

    .venv/bin/python -m bench.outage                   # 60 integrations, SQLite under var/
    .venv/bin/python -m bench.outage --integrations 300 \\
        --database-url postgres://postgres@127.0.0.1:5432/portal_bench_outage

The portal runs in this process on a fresh database: the schedules `migrate` creates are fired
by django-q2's own scheduler into the ORM broker, and the queued tasks are run as a cluster's
worker runs them (django-q2's `worker` and `monitor`: a failure is saved as a failed task),
against the sandbox in this process. time-machine moves the clock --step seconds ahead after
each step; between the jumps it runs at its real pace, so the work's own time counts too. Only
the waiting is compressed: the client's timeout is 0.2 s and a hung call waits 0.3 s (10 s and
more in production), and the retry waits are cut to 0.01 s.

Timeline (simulated minutes): 0-10 normal; 10-70 Meeting BaaS down (every API call answers 503,
event listings hang past the timeout: the sandbox's persistent faults); at 25 and 45 people ask
for work (a refresh, a bulk resync, bots by hand, a "record every meeting" policy switched on)
and meetings are added to the calendars; at 70 the faults are cleared, and the run goes on
until everything is caught up (or 60 more minutes). Prints the Meeting BaaS calls per minute
during the outage, the log lines at ERROR, the time from "answers again" to caught up, and what
was dropped (must be 0).
"""

from __future__ import annotations

import argparse
import logging
import os
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

from bench.run import ROOT, fresh_database

DOWN_AT, UP_AT = 10, 70  # minutes
ASK_AT = (25, 45)
GIVE_UP_AFTER = 60  # minutes after UP_AT
EVERY_API_PATH = r"/(v2/)?calendar.*"
MEETING_URL = "https://meet.google.com/abc-defg-hij"


class ErrorCount(logging.Handler):
    """Log lines at ERROR, by logger."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.by_logger: Counter[str] = Counter()

    @property
    def count(self) -> int:
        return self.by_logger.total()

    def emit(self, record: logging.LogRecord) -> None:
        self.by_logger[record.name] += 1


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--integrations", type=int, default=60)
    parser.add_argument("--step", type=int, default=10, help="simulated seconds per step")
    parser.add_argument(
        "--database-url", default=f"sqlite:///{ROOT / 'var' / 'bench-outage.sqlite3'}"
    )
    parser.add_argument(
        "--no-breaker",
        action="store_true",
        help="the same outage with the breaker off (MEETINGBAAS_OUTAGE_FAILURES=0): the baseline",
    )
    args = parser.parse_args()
    if args.no_breaker:
        os.environ["MEETINGBAAS_OUTAGE_FAILURES"] = "0"
    os.environ.setdefault("STATUS_REFRESH_MINUTES", "10")
    os.environ.setdefault("MEETINGS_SYNC_MINUTES", "30")
    os.environ.pop("REDIS_URL", None)  # the ORM broker, which this process drains itself
    fresh_database(args.database_url)
    report = simulate(args)
    print_report(args, report)


def simulate(args: argparse.Namespace) -> dict:
    import time_machine
    from django.conf import settings

    from sandbox import SandboxServer
    from sandbox.state import SandboxState

    state = SandboxState(api_key="bench-key", sync_delay=0)
    server = SandboxServer(state=state).start()
    settings.MEETINGBAAS_BASE_URL = server.url
    settings.MEETINGBAAS_API_KEY = "bench-key"
    settings.MEETINGBAAS_TIMEOUT = 0.2
    settings.MEETINGBAAS_MAX_RETRY_WAIT = 0.01
    settings.FIX_CHECK_SECONDS = 0.5
    settings.FIX_CHECK_INTERVAL_SECONDS = 0.1
    errors = ErrorCount()
    logging.getLogger().addHandler(errors)
    logging.getLogger("calendars").setLevel(logging.WARNING)
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    try:
        with time_machine.travel(start, tick=True) as clock:
            return Run(args, state, clock, errors).go()
    finally:
        server.stop()


class Run:
    def __init__(self, args, state, clock, errors) -> None:
        self.args = args
        self.state = state
        self.clock = clock
        self.errors = errors
        self.start = datetime.now(UTC)
        self.calls_by_minute: Counter[int] = Counter()
        self.asked: dict[str, list] = {"refresh": [], "bulk": [], "by_hand": [], "added": []}

    def minute(self) -> int:
        return int((datetime.now(UTC) - self.start).total_seconds() // 60)

    def go(self) -> dict:
        from django_q.models import Schedule

        self.seed()
        # The schedules as `migrate` made them, all due from the start.
        Schedule.objects.update(next_run=self.start)
        answered_at = caught_up_at = None
        errors_before_outage = errors_during = Counter()
        wall_catch_up = 0.0
        while True:
            minute = self.minute()
            if minute == DOWN_AT and not self.state.faults:
                errors_before_outage = Counter(self.errors.by_logger)
                self.go_down()
            if minute in ASK_AT and not self.asked_at(minute):
                self.ask(minute)
            if minute == UP_AT and answered_at is None:
                errors_during = self.errors.by_logger - errors_before_outage
                self.state.clear_faults()
                answered_at = datetime.now(UTC)
                wall_started = time.perf_counter()
            before = self.state.request_count
            self.tick()
            self.calls_by_minute[minute] += self.state.request_count - before
            if answered_at is not None and caught_up_at is None and self.caught_up(answered_at):
                caught_up_at = datetime.now(UTC)
                wall_catch_up = time.perf_counter() - wall_started
                break
            if minute >= UP_AT + GIVE_UP_AFTER:
                break
            self.clock.shift(timedelta(seconds=self.args.step))
        return {
            "calls_by_minute": self.calls_by_minute,
            "errors_during": errors_during,
            "answered_at": answered_at,
            "caught_up_at": caught_up_at,
            "wall_catch_up_s": wall_catch_up,
            "dropped": self.dropped(),
            "duplicates": self.duplicates(),
            "catch_up_calls": sum(n for m, n in self.calls_by_minute.items() if m >= UP_AT),
        }

    def tick(self) -> None:
        """One turn of a cluster: the scheduler, then every queued task, as a worker runs it."""
        from multiprocessing import Queue, Value

        from django_q.brokers import get_broker
        from django_q.monitor import monitor
        from django_q.scheduler import scheduler
        from django_q.signing import SignedPackage
        from django_q.worker import worker

        broker = get_broker()
        scheduler(broker)
        while taken := broker.dequeue():
            for ack_id, pack in taken:
                tasks, results = Queue(), Queue()
                task = SignedPackage.loads(pack)
                task["ack_id"] = ack_id
                tasks.put(task)
                tasks.put("STOP")
                worker(tasks, results, Value("f", -1))
                results.put("STOP")
                monitor(results, broker)
                broker.acknowledge(ack_id)

    def seed(self) -> None:
        """Customers, one credential each, N active v2 integrations, their windows synced."""
        from calendars.meetings.sync import sync_window
        from calendars.models import (
            BotPolicy,
            Credential,
            Customer,
            Integration,
            OAuthApp,
            RawCalendar,
        )
        from sandbox.state import SandboxConnection

        app = OAuthApp.objects.create(provider="google", name="B", client_id="c", client_secret="s")
        now = datetime.now(UTC)
        self.customers = [Customer.objects.create(name=f"Customer {n}") for n in range(2)]
        BotPolicy.objects.create(customer=self.customers[0], mode=BotPolicy.Mode.RECORD_ALL)
        for n in range(self.args.integrations):
            customer = self.customers[n % 2]
            account = f"user{n}@bench.example"
            remote = uuid.uuid4()
            self.state.connections[remote] = SandboxConnection(
                id=remote,
                api_version="v2",
                platform="google",
                account_email=account,
                raw_calendar_id=account,
                calendar_name=account,
                created_at=now - timedelta(days=1),
                sync_due_at=now - timedelta(days=1),
                synced_at=now - timedelta(days=1),
                sync_status="success",
                updated_at=now - timedelta(days=1),
                status="active",
            )
            credential = Credential.objects.create(
                customer=customer, oauth_app=app, account_email=account, refresh_token="rt"
            )
            raw = RawCalendar.objects.create(
                credential=credential, provider_id=account, listed_at=now
            )
            integration = Integration.objects.create(
                credential=credential,
                raw_calendar=raw,
                remote_id=remote,
                api_version="v2",
                provider="google",
                status="active",
                last_refreshed_at=now,
            )
            sync_window(integration.pk)

    def go_down(self) -> None:
        from sandbox.state import Fault

        # Listings of events hang past the client's timeout; every other call answers 503.
        self.state.add_fault(
            Fault(
                method="GET", path=r"/v2/calendars/[^/]+/events", kind="hang", delay=0.3, count=None
            )
        )
        self.state.add_fault(Fault(method="*", path=EVERY_API_PATH, kind="status", count=None))

    def asked_at(self, minute: int) -> bool:
        return any(at == minute for at, _ in self.asked["refresh"])

    def ask(self, minute: int) -> None:
        """What people ask for during the outage, and what changes remotely meanwhile."""
        from django.contrib.auth import get_user_model

        from calendars.actions import bulk
        from calendars.actions.refresh import queue_refresh
        from calendars.meetingbaas.errors import Unreachable
        from calendars.meetings import bots
        from calendars.models import BotPolicy, BulkJob, Integration, Meeting

        person, _ = get_user_model().objects.get_or_create(username="support")
        live = list(Integration.objects.order_by("pk"))
        try:
            queue_refresh(live[:5], acting_user=person)
            said = "queued"
        except Unreachable as exc:
            said = str(exc)
        self.asked["refresh"].append((minute, said))
        job = bulk.start(
            BulkJob.Kind.RESYNC, [i.pk for i in live[:10]], acting_user=person, description="bench"
        )
        self.asked["bulk"].append(job.pk)
        wanted = Meeting.objects.filter(
            integration__credential__customer=self.customers[1],
            has_bot=False,
            starts_at__gt=datetime.now(UTC) + timedelta(hours=2),
        ).exclude(meeting_url="")
        chosen = list(wanted.order_by("starts_at").values_list("pk", flat=True)[:3])
        self.asked["by_hand"] += [
            (o.meeting.pk, o.succeeded, o.message)
            for o in bots.schedule(chosen, acting_user=person)
        ]
        # Someone switches "record every meeting" on for the second customer.
        BotPolicy.objects.update_or_create(
            customer=self.customers[1], defaults={"mode": BotPolicy.Mode.RECORD_ALL}
        )
        for integration in live[:5]:
            connection = self.state.connections[integration.remote_id]
            event = self.state.add_event(
                str(connection.id),
                {
                    "title": f"Added at minute {minute}",
                    "start": (datetime.now(UTC) + timedelta(hours=3)).isoformat(),
                    "meeting_url": MEETING_URL,
                },
            )
            self.asked["added"].append(event.id)

    def caught_up(self, answered_at: datetime) -> bool:
        from calendars.models import BulkJob, Integration, Meeting, RefreshRun
        from calendars.outage import breaker

        if breaker.current() is not None:
            return False
        synced = set(
            Meeting.objects.filter(synced_at__gte=answered_at).values_list(
                "integration_id", flat=True
            )
        )
        if synced != set(Integration.objects.filter(status="active").values_list("pk", flat=True)):
            return False
        if not RefreshRun.objects.filter(started_at__gte=answered_at, error="").exists():
            return False
        if BulkJob.objects.filter(pk__in=self.asked["bulk"], finished_at__isnull=True).exists():
            return False
        return not self.wanting_bots().exists()

    def wanting_bots(self):
        from calendars.models import Meeting

        return Meeting.objects.filter(
            has_bot=False, is_cancelled=False, starts_at__gt=datetime.now(UTC), bot_failure=""
        ).exclude(meeting_url="")

    def duplicates(self) -> dict[str, int]:
        from django.db.models import Count

        from calendars.models import BotAttempt, Integration

        twice = (
            BotAttempt.objects.filter(succeeded=True, action__in=["schedule", "policy"])
            .values("meeting_id")
            .annotate(n=Count("pk"))
            .filter(n__gt=1)
        )
        return {
            "meetings given a bot more than once": twice.count(),
            "integrations beyond those seeded": Integration.objects.count()
            - self.args.integrations,
        }

    def dropped(self) -> dict[str, int]:
        """What a person asked for (or the policy wants) that is neither done nor said to have
        failed, with its reason."""
        from calendars.models import ActionRecord, BotAttempt, BulkJobItem, Meeting

        refused = ActionRecord.objects.filter(
            action="refresh status", succeeded=False, message__contains="unreachable since"
        ).count()
        asked_refreshes = 5 * len(self.asked["refresh"])
        items = BulkJobItem.objects.filter(job_id__in=self.asked["bulk"])
        bulk_dropped = items.exclude(state="done").filter(reason="").count()
        bulk_dropped += items.filter(state="pending").count()
        by_hand = [pk for pk, _, _ in self.asked["by_hand"]]
        told = BotAttempt.objects.filter(meeting_id__in=by_hand, action="schedule").exclude(
            message=""
        )
        added = Meeting.objects.filter(remote_event_id__in=self.asked["added"])
        return {
            "refreshes not queued and not said why": asked_refreshes - refused,
            "bulk items neither done nor failed with a reason": bulk_dropped,
            "bots asked by hand with no outcome": len(by_hand) - told.count(),
            "meetings added during the outage missing from the mirror": len(self.asked["added"])
            - added.count(),
            "meetings added during the outage without their policy bot": added.filter(
                has_bot=False
            ).count(),
            "meetings the policy wants a bot for without one (and no reason)": (
                self.wanting_bots().count()
            ),
        }


def print_report(args: argparse.Namespace, report: dict) -> None:
    from django.conf import settings
    from django.db import connection

    per_minute = [report["calls_by_minute"][m] for m in range(DOWN_AT, UP_AT)]
    steady = per_minute[1:]
    breaker = "breaker off (the baseline)" if args.no_breaker else "breaker on"
    print(
        f"# Meeting BaaS down for an hour ({connection.vendor}, {args.integrations} "
        f"integrations, {breaker})"
    )
    print()
    print(
        f"breaker: {settings.MEETINGBAAS_OUTAGE_FAILURES} failures in a row open it, a probe every "
        f"{settings.MEETINGBAAS_OUTAGE_PROBE_SECONDS:g} s; window syncs every "
        f"{settings.MEETINGS_SYNC_MINUTES} min, refresh every {settings.STATUS_REFRESH_MINUTES} "
        f"min; the clock moved {args.step} s per step"
    )
    print()
    print("| minutes | Meeting BaaS calls |")
    print("| --- | --- |")
    before = sum(report["calls_by_minute"][m] for m in range(DOWN_AT))
    print(f"| before the outage (0-{DOWN_AT}) | {before} |")
    print(f"| first minute of the outage ({DOWN_AT}) | {per_minute[0]} |")
    print(
        f"| each later minute of the outage ({DOWN_AT + 1}-{UP_AT}) | max {max(steady)}, "
        f"mean {sum(steady) / len(steady):.2f}, total {sum(steady)} |"
    )
    print(f"| after it answers ({UP_AT}-) | {report['catch_up_calls']} |")
    print()
    during = report["errors_during"]
    print(f"log lines at ERROR during the outage: {during.total()} {dict(during)}")
    if report["caught_up_at"] is None:
        print(f"NOT caught up within {GIVE_UP_AFTER} min of answering again")
    else:
        took = report["caught_up_at"] - report["answered_at"]
        print(
            f"caught up {took.total_seconds() / 60:.1f} simulated min after it answered "
            f"(the work itself: {report['wall_catch_up_s']:.1f} s of wall time in this process)"
        )
    dropped = report["dropped"]
    print(f"dropped: {sum(dropped.values())}")
    for what, count in dropped.items():
        print(f"  {what}: {count}")
    duplicates = report["duplicates"]
    print(f"duplicates: {sum(duplicates.values())}")
    for what, count in duplicates.items():
        print(f"  {what}: {count}")
    print("calls per minute, the whole run:", dict(sorted(report["calls_by_minute"].items())))


if __name__ == "__main__":
    main()
