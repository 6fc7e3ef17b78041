"""What the admin home shows support staff: counts, the needs-attention queue, recent activity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import Count, Exists, OuterRef
from django.utils import timezone

from calendars.meetingbaas.types import ApiVersion, Platform
from calendars.models import ActionRecord, Integration, RefreshRun, StatusChange
from calendars.status import Cause, PortalStatus, expires_soon


@dataclass(frozen=True)
class Bar:
    label: str
    count: int
    url: str
    css: str


def status_bars() -> list[Bar]:
    counts = dict(Integration.objects.values_list("status").annotate(n=Count("pk")).order_by())
    return [
        Bar(s.value, counts.get(s.value, 0), f"?status__exact={s.value}", f"status-{s.value}")
        for s in PortalStatus
    ]


def provider_bars() -> list[Bar]:
    counts = dict(Integration.objects.values_list("provider").annotate(n=Count("pk")).order_by())
    return [
        Bar(p.value, counts.get(p.value, 0), f"?provider__exact={p.value}", "provider")
        for p in Platform
    ]


def needs_attention(limit: int = 50) -> list[Integration]:
    """Integrations someone should look at, the longest-broken first.

    One small indexed query per kind of problem, merged here: a single query OR-ing them all
    would scan the whole table on every visit to the home page.
    """
    now = timezone.now()
    stuck = now - timedelta(minutes=settings.STUCK_SYNCING_MINUTES)
    stale = now - timedelta(minutes=2 * settings.STATUS_REFRESH_MINUTES)
    replaced = Integration.objects.live().filter(
        raw_calendar=OuterRef("raw_calendar"), pk__gt=OuterRef("pk")
    )
    # Unchanged integrations are confirmed by the refresh run, not row by row: a row is stale
    # only while its version's refresh has not succeeded lately either.
    stale_versions = [
        v
        for v in ApiVersion
        if (RefreshRun.last_success(v) or datetime.min.replace(tzinfo=UTC)) < stale
    ]
    # Each kind read in the order of its own index, so LIMIT stops early.
    queries = [
        (Integration.objects.in_error(), "status_changed_at"),
        (
            Integration.objects.disconnected()
            .exclude(status_cause=Cause.ADMIN_ACTION)
            .exclude(Exists(replaced)),
            "status_changed_at",
        ),
        (
            Integration.objects.in_status(PortalStatus.SYNCING).filter(status_changed_at__lt=stuck),
            "status_changed_at",
        ),
        (Integration.objects.expiring(now), "subscription_expires_at"),
        (
            Integration.objects.live().filter(
                api_version__in=stale_versions, last_refreshed_at__lt=stale
            ),
            "last_refreshed_at",
        ),
    ]
    found: dict[int, Integration] = {}
    for query, order in queries:
        rows = query.select_related("raw_calendar", "credential__customer").order_by(order)
        for integration in rows[:limit]:
            found[integration.pk] = integration
    oldest_first = sorted(found.values(), key=lambda i: (i.status_changed_at or now, i.pk))
    return oldest_first[:limit]


def problem_of(integration: Integration) -> str:
    """A short reason for the queue when the status alone does not say it."""
    now = timezone.now()
    if integration.status == PortalStatus.SYNCING:
        return "stuck in syncing"
    if integration.status == PortalStatus.ERROR:
        return "error"
    if integration.status == PortalStatus.DISCONNECTED:
        return "disconnected remotely"
    if expires_soon(integration.subscription_expires_at, now):
        return "push subscription expiring"
    return "not refreshed lately"


def recent_activity(limit: int = 10) -> tuple[list[StatusChange], list[ActionRecord]]:
    changes = StatusChange.objects.select_related("integration__raw_calendar", "user").order_by(
        "-changed_at", "-id"
    )
    actions = ActionRecord.objects.order_by("-at", "-id")
    return list(changes[:limit]), list(actions[:limit])
