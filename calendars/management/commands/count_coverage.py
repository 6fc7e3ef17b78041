"""Count the coverage report's days again from their meetings."""

from __future__ import annotations

from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from calendars.meetings import coverage


class Command(BaseCommand):
    help = (
        "Count the coverage report's days again from their meetings (every day still kept, "
        "or --start to --end): after meetings written around the portal (bulk loads, SQL) or "
        "a bot's news that came later than the periodic pass looks back. Days whose meetings "
        "may have begun to be pruned keep their counts. Safe while the portal runs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--start", type=date.fromisoformat, help="first day (YYYY-MM-DD)")
        parser.add_argument("--end", type=date.fromisoformat, help="last day (YYYY-MM-DD)")

    def handle(self, *args: object, **options: object) -> None:
        now = timezone.now()
        first = options["start"] or coverage.first_countable_day(now)
        last = options["end"] or timezone.localdate(now)
        if last < first:
            raise CommandError("--end is before --start.")
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        counted = coverage.count_days(days, now)
        skipped = len(days) - counted
        kept = f" ({skipped} not: older than the meetings kept)" if skipped else ""
        self.stdout.write(f"{counted} day{'s' if counted != 1 else ''} counted{kept}")
