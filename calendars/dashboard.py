"""What the admin home shows support staff: counts, the needs-attention queue, recent activity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from calendars.meetingbaas.types import ApiVersion, Platform, PortalStatus
from calendars.models import ActionRecord, Integration, RefreshRun, StatusChange

ADMIN_ACTION = StatusChange.Cause.ADMIN_ACTION


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
    counts = dict(
        Integration.objects.values_list("credential__oauth_app__provider")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return [
        Bar(
            p.value,
            counts.get(p.value, 0),
            f"?credential__oauth_app__provider={p.value}",
            "provider",
        )
        for p in Platform
    ]


def needs_attention(limit: int = 50) -> QuerySet[Integration]:
    """Integrations someone should look at, the longest-broken first."""
    now = timezone.now()
    stuck = now - timedelta(minutes=settings.STUCK_SYNCING_MINUTES)
    stale = now - timedelta(minutes=2 * settings.STATUS_REFRESH_MINUTES)
    live = ~Q(status=PortalStatus.DISCONNECTED)
    # Unchanged integrations are confirmed by the refresh run, not row by row: a row is stale
    # only while its version's refresh has not succeeded lately either.
    stale_versions = [
        v
        for v in ApiVersion
        if (RefreshRun.last_success(v) or datetime.min.replace(tzinfo=UTC)) < stale
    ]
    replaced = Integration.objects.filter(
        raw_calendar=OuterRef("raw_calendar"), pk__gt=OuterRef("pk")
    ).exclude(status=PortalStatus.DISCONNECTED)
    problem = (
        Q(status=PortalStatus.ERROR)
        | (
            Q(status=PortalStatus.DISCONNECTED)
            & ~Q(status_cause=ADMIN_ACTION)
            & ~Q(Exists(replaced))
        )
        | Q(status=PortalStatus.SYNCING, status_changed_at__lt=stuck)
        | (live & Q(api_version__in=stale_versions) & Q(last_refreshed_at__lt=stale))
        | (live & Q(subscription_expires_at__lt=now + timedelta(days=1)))
    )
    return (
        Integration.objects.filter(problem)
        .select_related("raw_calendar", "credential__customer", "credential__oauth_app")
        .order_by("status_changed_at", "pk")[:limit]
    )


def problem_of(integration: Integration) -> str:
    """A short reason for the queue when the status alone does not say it."""
    now = timezone.now()
    if integration.status == PortalStatus.SYNCING:
        return "stuck in syncing"
    if integration.status == PortalStatus.ERROR:
        return "error"
    if integration.status == PortalStatus.DISCONNECTED:
        return "disconnected remotely"
    if (
        integration.subscription_expires_at
        and integration.subscription_expires_at < now + timedelta(days=1)
    ):
        return "push subscription expiring"
    return "not refreshed lately"


def recent_activity(limit: int = 10) -> tuple[list[StatusChange], list[ActionRecord]]:
    changes = StatusChange.objects.select_related("integration__raw_calendar", "user").order_by(
        "-changed_at", "-id"
    )
    actions = ActionRecord.objects.order_by("-at", "-id")
    return list(changes[:limit]), list(actions[:limit])
