"""Reconciliation as the dashboard reads it: the orphans still waiting for an admin."""

from __future__ import annotations

from dataclasses import dataclass

from calendars.models import Reconciliation, ReconciliationFinding


@dataclass(frozen=True)
class OpenOrphans:
    count: int
    run: Reconciliation | None  # the latest run that found one


def latest_open_orphans() -> OpenOrphans:
    """Orphans no admin has adopted or deleted (each run supersedes the last one's)."""
    orphans = ReconciliationFinding.objects.filter(
        kind=ReconciliationFinding.Kind.ORPHAN, outcome=ReconciliationFinding.Outcome.OPEN
    )
    newest = orphans.select_related("run").order_by("-run_id").first()
    return OpenOrphans(orphans.count(), newest.run if newest else None)
