"""Count the integrations in each status and provider again (the home page's bars)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from calendars.models import IntegrationCount


class Command(BaseCommand):
    help = (
        "Recompute the integration counts the home page shows from the integrations themselves: "
        "after a deploy that adds them, or rows written around the portal (bulk loads, SQL). "
        "Safe while the portal runs: status changes wait for it."
    )

    def handle(self, *args: object, **options: object) -> None:
        before = {(c.status, c.provider): c.count for c in IntegrationCount.objects.all()}
        IntegrationCount.recount()
        for counted in IntegrationCount.objects.order_by("provider", "status"):
            was = before.get((counted.status, counted.provider), 0)
            note = "" if was == counted.count else f" (was {was})"
            self.stdout.write(f"{counted.provider} {counted.status}: {counted.count}{note}")
