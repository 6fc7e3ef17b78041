"""Keeping integrations' statuses true to Meeting BaaS: one at a time, all at once, or gone.

Remote text is stored through `fit` (cut to its column) and remote times through
`no_later_than_now`; where an integration moves is decided by the rules in `status`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from calendars import meetingbaas, queue
from calendars.actions.audit import record_action
from calendars.lib.remote_values import fit, no_later_than_now
from calendars.meetingbaas import errors
from calendars.meetingbaas.types import ApiVersion, RemoteConnection, ResyncOutcome
from calendars.models import Credential, Integration, RawCalendar, RefreshRun
from calendars.outage import breaker
from calendars.outage.breaker import since_words
from calendars.status import (
    Cause,
    PortalStatus,
    after_remote,
    cause_of_news,
    ended_by_sync,
    is_older,
    needs_detail,
)

logger = logging.getLogger(__name__)


# Remote ids per query when an answer names many integrations (well under any engine's limit).
IDS_PER_QUERY = 500


@dataclass
class RefreshSummary:
    checked: int = 0
    changed: int = 0
    failed: int = 0
    details_fetched: int = 0


def queue_refresh(
    integrations: Iterable[Integration], *, acting_user: AbstractBaseUser | None
) -> int:
    """Queue a refresh of each reachable integration (live, or revoked: a new grant may have
    revived it), recorded as asked; returns how many.

    While Meeting BaaS is unreachable nothing is queued (each task would only fail): every
    integration is recorded as refused, saying why, and `errors.Unreachable` is raised.
    """
    live = [integration for integration in integrations if integration.is_reachable]
    outage = breaker.current()
    if outage is not None:
        refused = errors.Unreachable(since_words(outage.since))
        for integration in live:
            record_action(
                acting_user,
                "refresh status",
                integration=integration,
                succeeded=False,
                message=f"not queued: {refused}",
            )
        raise refused
    for integration in live:
        record_action(
            acting_user, "refresh status", integration=integration, succeeded=None, message="queued"
        )
    for integration in live:
        queue.enqueue(
            "refresh_integration",
            integration.pk,
            group="refresh",
            task_name=refresh_task_name(integration.pk),
        )
    return len(live)


def refresh_task_name(integration_id: int) -> str:
    """The name a refresh a person asked for is queued under (its Task row's, once it ran)."""
    return f"refresh-{integration_id}"


def refresh_integration(
    integration_id: int, *, cause: str = Cause.REFRESH, acting_user: AbstractBaseUser | None = None
) -> Integration:
    """Fetch one integration's state from Meeting BaaS and record any status change."""
    integration = Integration.objects.get(pk=integration_id)
    if not integration.is_reachable:
        return integration
    client = meetingbaas.client(integration.api_version)
    try:
        remote = client.get_connection(integration.remote_id)
    except errors.NotFound as exc:
        return mark_disconnected(
            integration_id,
            message=str(exc),
            cause=cause_of_news(cause, PortalStatus.DISCONNECTED),
            acting_user=acting_user,
        )
    return apply_remote(integration_id, remote, cause=cause, acting_user=acting_user)


def apply_remote(
    integration_id: int,
    remote: RemoteConnection,
    *,
    cause: str,
    acting_user: AbstractBaseUser | None = None,
) -> Integration:
    """Store what Meeting BaaS said about an integration, with a StatusChange if it moved."""
    with transaction.atomic():
        integration = Integration.objects.select_for_update().get(pk=integration_id)
        updated_at = no_later_than_now(remote.updated_at)
        if not integration.is_reachable or is_older(updated_at, integration.remote_updated_at):
            return integration
        if updated_at:
            integration.remote_updated_at = updated_at
        for name, value in remote_fields(remote, integration.api_version).items():
            setattr(integration, name, value)
        new_status = after_remote(integration.api_version, integration.status, remote.portal_status)
        if new_status != integration.status or new_status == PortalStatus.ERROR:
            integration.error_message = (
                error_message_of(remote) if new_status != PortalStatus.ACTIVE else ""
            )
        integration.move_to(
            new_status,
            integration.error_message,
            cause=cause_of_news(cause, new_status),
            user=acting_user,
        )
        integration.last_refreshed_at = timezone.now()
        integration.save()
    return integration


def remote_fields(remote: RemoteConnection, api_version: str) -> dict:
    """The raw remote fields worth storing from `remote` (list entries carry fewer)."""
    if api_version == ApiVersion.V1:
        return {}
    fields = {
        "remote_status": fit(Integration, "remote_status", remote.status),
        "synced_at": no_later_than_now(remote.synced_at),
    }
    if remote.is_detailed:
        fields |= {
            "remote_status_message": fit(
                Integration, "remote_status_message", remote.status_message
            ),
            "sync_status": fit(Integration, "sync_status", remote.sync_status),
            "sync_error": fit(Integration, "sync_error", remote.sync_error),
            # A lapse date lies ahead by nature: it is shown, never used to order news.
            "subscription_expires_at": remote.subscription_expires_at,
        }
    return fields


def error_message_of(remote: RemoteConnection) -> str:
    if remote.portal_status == PortalStatus.ACTIVE:
        return ""
    return fit(Integration, "error_message", remote.portal_message)


def create_from_remote(
    credential: Credential, raw_calendar: RawCalendar, remote: RemoteConnection, api_version: str
) -> Integration:
    """The integration of a connection just made or adopted, in the status it has remotely."""
    now = timezone.now()
    return Integration.objects.create(
        credential=credential,
        raw_calendar=raw_calendar,
        remote_id=remote.remote_id,
        api_version=api_version,
        provider=credential.oauth_app.provider,
        **remote_fields(remote, api_version),
        status=remote.portal_status,
        error_message=error_message_of(remote),
        last_refreshed_at=now,
        status_changed_at=now,
        status_cause=Cause.CREATED,
    )


def mark_disconnected(
    integration_id: int,
    *,
    message: str,
    cause: str,
    acting_user: AbstractBaseUser | None = None,
) -> Integration:
    """Record that the connection no longer exists remotely; the row stays as history.

    `cause` is Cause.ADMIN_ACTION only for a person's Disconnect: one found gone while a person's
    action checked is news (`cause_of_news`), not their decision."""
    with transaction.atomic():
        integration = Integration.objects.select_for_update().get(pk=integration_id)
        disconnect_locked(integration, message, cause=cause, acting_user=acting_user)
        integration.last_refreshed_at = timezone.now()
        integration.save()
    return integration


def disconnect_locked(
    integration: Integration,
    message: str,
    *,
    cause: str,
    acting_user: AbstractBaseUser | None = None,
) -> None:
    """Move an integration locked for update to disconnected, saying why; the caller saves.

    The connection is gone from Meeting BaaS: whatever status it last reported (revoked, say)
    no longer holds, and nothing can revive it."""
    integration.error_message = fit(Integration, "error_message", message)
    integration.remote_status = ""
    if integration.status == PortalStatus.DISCONNECTED:
        # Already disconnected (revoked), now gone: why it is disconnected is what changed.
        integration.status_cause = cause
    integration.move_to(PortalStatus.DISCONNECTED, message, cause=cause, user=acting_user)


def refresh_every_version() -> RefreshSummary:
    """Refresh every live integration, each API version in use from its own listing."""
    total = RefreshSummary()
    versions = set(Integration.objects.values_list("api_version", flat=True).distinct())
    for version in sorted(versions | {settings.MEETINGBAAS_API_VERSION}):
        summary = refresh_all(version)
        for name in ("checked", "changed", "failed", "details_fetched"):
            setattr(total, name, getattr(total, name) + getattr(summary, name))
    return total


def refresh_all(api_version: str | None = None) -> RefreshSummary:
    """Refresh every live integration of one API version from the list endpoint's pages.

    One listing gives every connection's status; only integrations whose status looks
    different (or that are in error, whose details the list omits) get a GET and a write of
    their own. The others are confirmed together: their `last_refreshed_at` becomes the
    listing's time, a few UPDATEs for them all and no history. An
    integration that cannot be refreshed, for whatever reason, is counted as failed (its
    reason in the run's error) and the run goes on.
    """
    client = meetingbaas.client(api_version)
    run = RefreshRun.objects.create(api_version=client.api_version, started_at=timezone.now())
    summary = RefreshSummary()
    try:
        listed = {remote.remote_id: remote for remote in client.list_connections()}
    except errors.MeetingBaasError as exc:
        _finish_run(run, summary, listed=0, error=str(exc), failures=[])
        raise
    listed_at = timezone.now()
    failures: list[str] = []
    confirmed: list[int] = []
    # Revoked ones too: the owner's new grant may have revived them outside the portal.
    live = Integration.objects.reachable().filter(api_version=client.api_version)
    for integration_id, remote_id, status in live.values_list(
        "pk", "remote_id", "status"
    ).iterator():
        summary.checked += 1
        remote = listed.get(remote_id)
        if remote is not None and not needs_detail(
            client.api_version, status, remote.portal_status
        ):
            confirmed.append(integration_id)
            continue
        summary.details_fetched += 1
        try:
            updated = refresh_integration(integration_id, cause=Cause.REFRESH)
        except errors.MeetingBaasError as exc:
            summary.failed += 1
            failures.append(f"integration {integration_id}: {exc}")
            logger.warning("refresh of integration %s failed: %s", integration_id, exc)
            continue
        except Exception as exc:
            # One row the database refuses (or a bug it trips) must not stop every other row's
            # refresh; its own writes were rolled back with its transaction.
            summary.failed += 1
            failures.append(f"integration {integration_id}: {type(exc).__name__}: {exc}")
            logger.exception("refresh of integration %s failed", integration_id)
            continue
        summary.changed += int(updated.status != status)
    _confirm(confirmed, listed_at)
    _finish_run(run, summary, listed=len(listed), error="", failures=failures)
    return summary


def _confirm(integration_ids: list[int], listed_at: datetime) -> None:
    """Each integration the listing confirmed unchanged was refreshed when it was listed: its
    page says so (one UPDATE per IDS_PER_QUERY, no row of history)."""
    not_since = Q(last_refreshed_at__isnull=True) | Q(last_refreshed_at__lt=listed_at)
    for start in range(0, len(integration_ids), IDS_PER_QUERY):
        chunk = integration_ids[start : start + IDS_PER_QUERY]
        Integration.objects.filter(not_since, pk__in=chunk).update(last_refreshed_at=listed_at)


def _finish_run(
    run: RefreshRun, summary: RefreshSummary, *, listed: int, error: str, failures: list[str]
) -> None:
    """Close the run; `error` fails it as a whole, `failures` are the rows it could not do."""
    run.finished_at = timezone.now()
    run.succeeded = not error
    run.listed = listed
    run.error = fit(RefreshRun, "error", "\n".join([error, *failures]).strip())
    for name in ("checked", "details_fetched", "changed", "failed"):
        setattr(run, name, getattr(summary, name))
    run.save()


@dataclass
class ResyncApplied:
    """What one v1 `resync_all` answer changed in the portal."""

    errors: int = 0  # integrations moved to error (or given a new error message)
    recovered: int = 0  # integrations the answer ended an error or a first sync of


def check_v1_health() -> ResyncApplied | None:
    """Ask Meeting BaaS to resync every v1 calendar and apply its answer; None: no v1 in use."""
    if not Integration.objects.live().filter(api_version=ApiVersion.V1).exists():
        return None
    outcome = meetingbaas.client(ApiVersion.V1).resync_all()
    return apply_resync_outcome(outcome, cause=Cause.REFRESH)


def apply_resync_outcome(
    outcome: ResyncOutcome, *, cause: str, acting_user: AbstractBaseUser | None = None
) -> ResyncApplied:
    """Apply a v1 `resync_all` answer to every live v1 integration it names.

    One answer speaks for the whole account: a calendar in its errors is in error with the
    API's message, a synced one is active again (v1 carries no status that could say so).
    """
    applied = ResyncApplied()
    v1 = Integration.objects.live().filter(api_version=ApiVersion.V1)
    failed = list(outcome.errors.items())
    for start in range(0, len(failed), IDS_PER_QUERY):
        messages = dict(failed[start : start + IDS_PER_QUERY])
        named = v1.filter(remote_id__in=list(messages)).values_list("pk", "remote_id")
        for pk, remote_id in named:
            applied.errors += _resync_failed(pk, messages[remote_id], cause, acting_user)
    for start in range(0, len(outcome.synced), IDS_PER_QUERY):
        chunk = outcome.synced[start : start + IDS_PER_QUERY]
        waiting = v1.filter(remote_id__in=chunk).exclude(status=PortalStatus.ACTIVE)
        for pk in waiting.values_list("pk", flat=True):
            applied.recovered += _resync_succeeded(pk, cause, acting_user)
    return applied


def _resync_failed(
    integration_id: int, message: str, cause: str, acting_user: AbstractBaseUser | None
) -> bool:
    message = fit(Integration, "error_message", message)
    with transaction.atomic():
        integration = Integration.objects.select_for_update().get(pk=integration_id)
        if not integration.is_live or (
            integration.status == PortalStatus.ERROR and integration.error_message == message
        ):
            return False
        integration.error_message = message
        integration.move_to(PortalStatus.ERROR, message, cause=cause, user=acting_user)
        integration.last_refreshed_at = timezone.now()
        integration.save()
    return True


def _resync_succeeded(
    integration_id: int, cause: str, acting_user: AbstractBaseUser | None
) -> bool:
    with transaction.atomic():
        integration = Integration.objects.select_for_update().get(pk=integration_id)
        if not integration.is_live or not ended_by_sync(
            integration.api_version, integration.status
        ):
            return False
        integration.error_message = ""
        integration.move_to(
            PortalStatus.ACTIVE, "Resynced by Meeting BaaS.", cause=cause, user=acting_user
        )
        integration.last_refreshed_at = timezone.now()
        integration.save()
    return True
