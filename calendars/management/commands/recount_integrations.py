"""Count the integrations in each status and provider again (the home page's bars), classify and
count their problems again (its needs-attention worklist), and the new problems of each day (its
chart)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from calendars.models import IntegrationCount, ProblemCount, ProblemDay


class Command(BaseCommand):
    help = (
        "Recompute the integration counts the home page shows from the integrations themselves "
        "(by status and provider, by class of problem, and new problems per day): after a deploy "
        "that adds them, or rows written around the portal (bulk loads, SQL). Safe while the "
        "portal runs: status changes wait for it."
    )

    def handle(self, *args: object, **options: object) -> None:
        before = {(c.status, c.provider): c.count for c in IntegrationCount.objects.all()}
        IntegrationCount.recount()
        for counted in IntegrationCount.objects.order_by("provider", "status"):
            was = before.get((counted.status, counted.provider), 0)
            note = "" if was == counted.count else f" (was {was})"
            self.stdout.write(f"{counted.provider} {counted.status}: {counted.count}{note}")
        totals = ProblemCount.objects.filter(scope=ProblemCount.Scope.ALL)
        before = dict(totals.values_list("problem", "count"))
        ProblemCount.recount()
        for problem, count in totals.order_by("problem").values_list("problem", "count"):
            was = before.get(problem, 0)
            note = "" if was == count else f" (was {was})"
            self.stdout.write(f"problem {problem}: {count}{note}")
        ProblemDay.recount()
        self.stdout.write(f"new problems of the last {ProblemDay.DAYS} days counted again")
