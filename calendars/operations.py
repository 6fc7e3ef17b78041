"""The portal's verbs. Admin actions, tasks and commands all call these.

An operation takes model instances or ids, calls the Meeting BaaS client, writes its rows
in one transaction and records status history. Errors from the API propagate as
`MeetingBaasError` (or `SecretUnreadable`) for the caller to show to a person. Remote text is
stored through `fit` (cut to its column) and remote times through `no_later_than_now`.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables
from django_q.tasks import async_task

from calendars import meetingbaas
from calendars.lib.remote_values import fit, lies_ahead, no_later_than_now
from calendars.meetingbaas import errors
from calendars.meetingbaas.types import ApiVersion, PortalStatus, RemoteConnection
from calendars.models import (
    Credential,
    Integration,
    OAuthApp,
    RawCalendar,
    RefreshRun,
    StatusChange,
)

logger = logging.getLogger(__name__)
Cause = StatusChange.Cause


@dataclass(frozen=True)
class CreateOutcome:
    integration: Integration
    created: bool  # False: the raw calendar already had a live integration
    adopted: bool = False  # True: Meeting BaaS had the connection already (409 or lost answer)


@dataclass
class RefreshSummary:
    checked: int = 0
    changed: int = 0
    failed: int = 0
    details_fetched: int = 0


@sensitive_variables("grant")
def list_raw_calendars(credential: Credential) -> list[RawCalendar]:
    """Ask Meeting BaaS which calendars the credential can see, and store them."""
    grant = credential.grant()
    try:
        remote = meetingbaas.client().list_raw_calendars(grant)
    except errors.MeetingBaasError as exc:
        if not exc.transient:
            _record_check(credential, ok=False, message=str(exc))
        raise
    # An id is stored whole or not at all: cut, it would name another calendar.
    storable = [item for item in remote if fit(RawCalendar, "provider_id", item.id) == item.id]
    now = timezone.now()
    with transaction.atomic():
        stored = [
            RawCalendar.objects.update_or_create(
                credential=credential,
                provider_id=item.id,
                defaults={
                    "name": fit(RawCalendar, "name", item.name),
                    "email": fit(RawCalendar, "email", item.email),
                    "is_primary": item.is_primary,
                    "listed_at": now,
                },
            )[0]
            for item in storable
        ]
        message = f"{len(stored)} calendar(s) listed."
        if len(storable) < len(remote):
            message += f" {len(remote) - len(storable)} left out: their ids are too long or odd."
        _record_check(credential, ok=True, message=message)
    return stored


def _record_check(credential: Credential, *, ok: bool, message: str) -> None:
    Credential.objects.filter(pk=credential.pk).update(
        last_checked_at=timezone.now(),
        last_check_ok=ok,
        last_check_message=fit(Credential, "last_check_message", message),
    )


@sensitive_variables("grant")
def create_integration(
    raw_calendar: RawCalendar, *, user: AbstractBaseUser | None = None
) -> CreateOutcome:
    """Connect a raw calendar on Meeting BaaS, once, however often or concurrently asked."""
    with transaction.atomic():
        # Locking the raw calendar serialises concurrent creates for it: the second waits
        # here, then finds the first one's integration instead of calling the API again.
        raw_calendar = (
            RawCalendar.objects.select_for_update()
            .select_related("credential__oauth_app")
            .get(pk=raw_calendar.pk)
        )
        live = _live_integration(raw_calendar)
        if live is not None:
            return CreateOutcome(live, created=False)
        credential = raw_calendar.credential
        client = meetingbaas.client()
        grant = credential.grant()
        remote, adopted = _create_or_adopt(client, credential, raw_calendar, grant)
        try:
            with transaction.atomic():
                integration = Integration.objects.create(
                    credential=credential,
                    raw_calendar=raw_calendar,
                    remote_id=remote.remote_id,
                    api_version=client.api_version,
                    provider=credential.oauth_app.provider,
                    **_remote_fields(remote, client.api_version),
                    status=remote.portal_status,
                    error_message=_error_message(remote),
                    last_refreshed_at=timezone.now(),
                    status_changed_at=timezone.now(),
                    status_cause=Cause.CREATED,
                )
        except IntegrityError:
            # Another path stored this remote connection first (a reconciling refresh).
            existing = Integration.objects.get(remote_id=remote.remote_id)
            return CreateOutcome(existing, created=False, adopted=True)
        StatusChange.objects.create(
            integration=integration,
            to_status=integration.status,
            message=fit(
                StatusChange,
                "message",
                ("Adopted an existing Meeting BaaS connection. " if adopted else "")
                + integration.error_message,
            ),
            cause=Cause.CREATED,
            user=user,
        )
        transaction.on_commit(lambda: _retry_early_webhooks(remote.remote_id))
    logger.info(
        "integration created id=%s remote_id=%s adopted=%s",
        integration.pk,
        remote.remote_id,
        adopted,
    )
    return CreateOutcome(integration, created=True, adopted=adopted)


def _retry_early_webhooks(remote_id: UUID) -> None:
    async_task("calendars.tasks.retry_unknown_connection", str(remote_id), group="webhooks")


def _live_integration(raw_calendar: RawCalendar) -> Integration | None:
    return (
        raw_calendar.integrations.exclude(status=PortalStatus.DISCONNECTED).order_by("-pk").first()
    )


@sensitive_variables("grant")
def _create_or_adopt(
    client: meetingbaas.Client, credential: Credential, raw_calendar: RawCalendar, grant: object
) -> tuple[RemoteConnection, bool]:
    try:
        return client.create_connection(grant, raw_calendar.provider_id), False
    except (errors.Conflict, errors.Unavailable, errors.BadResponse) as exc:
        # No idempotency key exists: after a 409, a lost answer or one we cannot read (the
        # server may have acted all the same), find the connection by listing the account's
        # connections, skipping those other integrations hold.
        known = set(
            Integration.objects.values_list("remote_id", flat=True).filter(credential=credential)
        )
        try:
            found = client.find_connection(
                grant, credential.account_email, raw_calendar.provider_id, known
            )
        except errors.MeetingBaasError:
            raise exc from None
        if found is None:
            if isinstance(exc, errors.Conflict):
                raise errors.Conflict(
                    f"{exc.message} It could not be matched to this raw calendar; "
                    "check the account's connections on Meeting BaaS.",
                    http_status=exc.http_status,
                    code=exc.code,
                ) from exc
            raise type(exc)(
                f"{exc.message}. No connection was created on Meeting BaaS; "
                "it is safe to try again.",
                http_status=exc.http_status,
            ) from exc
        logger.warning(
            "create reconciled: adopted remote_id=%s after %s", found.remote_id, type(exc).__name__
        )
        return found, True


def _remote_fields(remote: RemoteConnection, api_version: str) -> dict:
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


def _error_message(remote: RemoteConnection) -> str:
    if remote.portal_status == PortalStatus.ACTIVE:
        return ""
    return fit(Integration, "error_message", remote.portal_message)


def refresh_integration(
    integration_id: int, *, cause: str = Cause.REFRESH, user: AbstractBaseUser | None = None
) -> Integration:
    """Fetch one integration's state from Meeting BaaS and record any status change."""
    integration = Integration.objects.get(pk=integration_id)
    if integration.status == PortalStatus.DISCONNECTED:
        return integration
    client = meetingbaas.client(integration.api_version)
    try:
        remote = client.get_connection(integration.remote_id)
    except errors.NotFound as exc:
        return mark_disconnected(integration_id, message=str(exc), cause=cause, user=user)
    return apply_remote(integration_id, remote, cause=cause, user=user)


def apply_remote(
    integration_id: int,
    remote: RemoteConnection,
    *,
    cause: str,
    user: AbstractBaseUser | None = None,
) -> Integration:
    """Store what Meeting BaaS said about an integration, with a StatusChange if it moved."""
    with transaction.atomic():
        integration = Integration.objects.select_for_update().get(pk=integration_id)
        updated_at = no_later_than_now(remote.updated_at)
        if integration.status == PortalStatus.DISCONNECTED or is_older(
            updated_at, integration.remote_updated_at
        ):
            return integration
        if updated_at:
            integration.remote_updated_at = updated_at
        for name, value in _remote_fields(remote, integration.api_version).items():
            setattr(integration, name, value)
        new_status = _target_status(integration, remote)
        if new_status != integration.status or new_status == PortalStatus.ERROR:
            integration.error_message = (
                _error_message(remote) if new_status != PortalStatus.ACTIVE else ""
            )
        record_status(integration, new_status, integration.error_message, cause=cause, user=user)
        integration.last_refreshed_at = timezone.now()
        integration.save()
    return integration


def is_older(moment: datetime | None, held: datetime | None) -> bool:
    """Whether remote news from `moment` predates the newest remote state we hold.

    A held time in the future (stored before remote times were clamped) says nothing: it
    cannot pin the status.
    """
    return moment is not None and held is not None and moment < held and not lies_ahead(held)


def _target_status(integration: Integration, remote: RemoteConnection) -> PortalStatus:
    if integration.api_version == ApiVersion.V1 and integration.status == PortalStatus.ERROR:
        # v1 has no status to say an error is over; only a sync or new credentials end it.
        return PortalStatus.ERROR
    return remote.portal_status


def record_status(
    integration: Integration,
    new_status: PortalStatus,
    message: str,
    *,
    cause: str,
    user: AbstractBaseUser | None,
) -> None:
    """Set the status on an integration locked for update, recording the change if any."""
    if new_status == integration.status:
        return
    integration.status_changed_at = timezone.now()
    integration.status_cause = cause
    StatusChange.objects.create(
        integration=integration,
        from_status=integration.status,
        to_status=new_status,
        message=fit(StatusChange, "message", message),
        cause=cause,
        user=user,
    )
    integration.status = new_status


def mark_disconnected(
    integration_id: int, *, message: str, cause: str, user: AbstractBaseUser | None = None
) -> Integration:
    """Record that the connection no longer exists remotely; the row stays as history."""
    with transaction.atomic():
        integration = Integration.objects.select_for_update().get(pk=integration_id)
        integration.error_message = fit(Integration, "error_message", message)
        record_status(integration, PortalStatus.DISCONNECTED, message, cause=cause, user=user)
        integration.last_refreshed_at = timezone.now()
        integration.save()
    return integration


def refresh_all(api_version: str | None = None) -> RefreshSummary:
    """Refresh every live integration of one API version from the list endpoint's pages.

    One listing gives every connection's status; only integrations whose status looks
    different (or that are in error, whose details the list omits) get a GET and a write of
    their own. The others are confirmed by the RefreshRun, with no write per row. An
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
    failures: list[str] = []
    live = Integration.objects.filter(api_version=client.api_version).exclude(
        status=PortalStatus.DISCONNECTED
    )
    for integration_id, remote_id, status in live.values_list(
        "pk", "remote_id", "status"
    ).iterator():
        summary.checked += 1
        remote = listed.get(remote_id)
        if remote is not None and not _needs_detail(client.api_version, status, remote):
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
    _finish_run(run, summary, listed=len(listed), error="", failures=failures)
    return summary


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


def _needs_detail(api_version: str, status: str, remote: RemoteConnection) -> bool:
    if api_version == ApiVersion.V1:
        return status == PortalStatus.SYNCING  # only a GET (events seen) can end syncing
    return remote.portal_status != status or status == PortalStatus.ERROR


@sensitive_variables("refresh_token")
def replace_refresh_token(credential_id: int, refresh_token: str) -> Credential:
    """Store a new refresh token; pushing it to the integrations is a bulk job."""
    return _replace_secret(Credential, credential_id, "refresh_token", refresh_token)


@sensitive_variables("client_secret")
def rotate_client_secret(oauth_app_id: int, client_secret: str) -> OAuthApp:
    """Store a new client secret; pushing it to the integrations is a bulk job."""
    return _replace_secret(OAuthApp, oauth_app_id, "client_secret", client_secret)


@sensitive_variables("value")
def _replace_secret[M: (Credential, OAuthApp)](
    model: type[M], pk: int, field: str, value: str
) -> M:
    # History never holds the secret; its *_replaced_at field records that it changed.
    with transaction.atomic():
        obj = model.objects.select_for_update().get(pk=pk)
        setattr(obj, field, value)
        setattr(obj, f"{field}_replaced_at", timezone.now())
        obj.save()
    return obj


@sensitive_variables("grant")
def push_credentials(integration_id: int, *, user: AbstractBaseUser | None = None) -> Integration:
    """PATCH the integration's current OAuth fields to Meeting BaaS, then refresh it."""
    integration = Integration.objects.select_related("credential__oauth_app").get(pk=integration_id)
    grant = integration.credential.grant()
    try:
        meetingbaas.client(integration.api_version).update_credentials(integration.remote_id, grant)
    except errors.NotFound as exc:
        mark_disconnected(integration_id, message=str(exc), cause=Cause.ADMIN_ACTION, user=user)
        raise
    return refresh_integration(integration_id, cause=Cause.ADMIN_ACTION, user=user)


def resubscribe_integration(
    integration_id: int, *, user: AbstractBaseUser | None = None
) -> Integration:
    """Renew the integration's push subscription (v2), then refresh it."""
    integration = Integration.objects.get(pk=integration_id)
    meetingbaas.client(integration.api_version).resubscribe(integration.remote_id)
    return refresh_integration(integration_id, cause=Cause.ADMIN_ACTION, user=user)


def disconnect_integration(
    integration_id: int, *, user: AbstractBaseUser | None = None
) -> Integration:
    """Delete the connection on Meeting BaaS and keep the integration, disconnected, as history."""
    integration = Integration.objects.get(pk=integration_id)
    if integration.status != PortalStatus.DISCONNECTED:
        # A connection already gone remotely is the outcome we want.
        with contextlib.suppress(errors.NotFound):
            meetingbaas.client(integration.api_version).delete_connection(integration.remote_id)
    who = user.get_username() if user is not None else "the portal"
    return mark_disconnected(
        integration_id,
        message=f"Disconnected through the portal by {who}.",
        cause=Cause.ADMIN_ACTION,
        user=user,
    )


def recreate_integration(
    integration_id: int, *, user: AbstractBaseUser | None = None
) -> Integration:
    """Recreate a disconnected integration from its raw calendar (once, however often asked)."""
    integration = Integration.objects.select_related("raw_calendar").get(pk=integration_id)
    if integration.status != PortalStatus.DISCONNECTED:
        raise errors.InvalidRequest(
            "Only a disconnected integration can be recreated; this one is live."
        )
    return create_integration(integration.raw_calendar, user=user).integration


def resync_integration(integration_id: int, *, user: AbstractBaseUser | None = None) -> Integration:
    """Ask Meeting BaaS to sync the integration's events again, then refresh its status."""
    integration = Integration.objects.get(pk=integration_id)
    try:
        meetingbaas.client(integration.api_version).resync(integration.remote_id)
    except errors.NotFound as exc:
        return mark_disconnected(
            integration_id, message=str(exc), cause=Cause.ADMIN_ACTION, user=user
        )
    return refresh_integration(integration_id, cause=Cause.ADMIN_ACTION, user=user)
