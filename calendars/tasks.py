"""django-q2 entry points: plain functions given ids, each safe to run more than once.

django-q2 stores task arguments and failures verbatim (and shows them in its admin), so
nothing here takes or returns a secret.
"""

from __future__ import annotations

from dataclasses import asdict

from django.conf import settings
from django_q.models import Schedule
from django_q.tasks import async_task

from calendars import operations
from calendars.models import Integration

REFRESH_ALL_SCHEDULE = "Refresh all integration statuses"


def refresh_integration(integration_id: int) -> str:
    """Refresh one integration (idempotent: it only stores what the API says now)."""
    try:
        integration = operations.refresh_integration(integration_id)
    except Integration.DoesNotExist:
        return f"integration {integration_id} no longer exists"
    return f"integration {integration_id} is {integration.status}"


def refresh_all_integrations() -> dict[str, int]:
    """Refresh every live integration, each API version in use from its own listing."""
    totals: dict[str, int] = {}
    versions = Integration.objects.values_list("api_version", flat=True).distinct()
    for version in sorted(set(versions) | {settings.MEETINGBAAS_API_VERSION}):
        for name, value in asdict(operations.refresh_all(version)).items():
            totals[name] = totals.get(name, 0) + value
    return totals


def enqueue_refresh(integration_ids: list[int]) -> list[str]:
    """Queue a refresh for each integration; returns the django-q2 task ids."""
    return [
        async_task(
            refresh_integration,
            integration_id,
            group="refresh",
            task_name=f"refresh-{integration_id}",
        )
        for integration_id in integration_ids
    ]


def ensure_schedules() -> Schedule:
    """Create or update the periodic refresh so it matches STATUS_REFRESH_MINUTES."""
    schedule, _ = Schedule.objects.update_or_create(
        name=REFRESH_ALL_SCHEDULE,
        defaults={
            "func": "calendars.tasks.refresh_all_integrations",
            "schedule_type": Schedule.MINUTES,
            "minutes": settings.STATUS_REFRESH_MINUTES,
            "repeats": -1,
        },
    )
    return schedule
