"""Reconciliation as the dashboard reads it: the orphans still waiting for an admin."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Max

from calendars.models import ReconciliationFinding


@dataclass(frozen=True)
class OpenOrphans:
    count: int
    run_id: int | None  # the latest run that found one


def latest_open_orphans() -> OpenOrphans:
    """Orphans no admin has adopted or deleted (each run supersedes the last one's)."""
    orphans = ReconciliationFinding.objects.filter(
        kind=ReconciliationFinding.Kind.ORPHAN, outcome=ReconciliationFinding.Outcome.OPEN
    )
    found = orphans.aggregate(count=Count("pk"), run_id=Max("run_id"))
    return OpenOrphans(found["count"], found["run_id"])
