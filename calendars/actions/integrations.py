"""Integrations: create (once, however often asked), push credentials, resync, resubscribe,
disconnect and recreate.

The item verbs here are what bulk jobs run; a bulk job records who started it for every
integration it holds (`actions.bulk.start`), so these record no action row of their own.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.views.decorators.debug import sensitive_variables

from calendars import meetingbaas, queue
from calendars.actions.audit import record_action
from calendars.actions.refresh import (
    apply_resync_outcome,
    create_from_remote,
    mark_disconnected,
    refresh_integration,
)
from calendars.limits import connections
from calendars.meetingbaas import errors
from calendars.meetingbaas.types import ApiVersion, RemoteConnection
from calendars.models import Credential, Integration, RawCalendar
from calendars.problems import PROBLEMS
from calendars.status import Cause, PortalStatus, cause_of_news

# How a person's Disconnect words the integration's last status change.
DISCONNECTED_BY = "Disconnected through the portal by "
# Why a calendar whose grant was revoked gets no new connection.
REVOKED_NOT_RECREATED = (
    "Its access was revoked, and Meeting BaaS keeps the connection: a new one would be refused. "
    "Send the account's owner a re-consent link (or replace the refresh token): their new grant "
    "brings this same integration back."
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CreateOutcome:
    integration: Integration
    created: bool  # False: the raw calendar already had a live integration
    adopted: bool = False  # True: Meeting BaaS had the connection already (409 or lost answer)

    def summary(self, raw_calendar: RawCalendar) -> str:
        """What happened, in the words the person who asked is shown."""
        status = self.integration.status
        if not self.created:
            return f"{raw_calendar} already has an integration ({status}); none was created."
        adopted = " (adopted the connection Meeting BaaS already had)" if self.adopted else ""
        return f"{raw_calendar}: integration created, status {status}{adopted}."


def create_integration(
    raw_calendar: RawCalendar, *, acting_user: AbstractBaseUser | None = None
) -> CreateOutcome:
    """Connect a raw calendar on Meeting BaaS, once, however often or concurrently asked."""
    try:
        _may_connect_again(raw_calendar, acting_user)
        with transaction.atomic():
            outcome = _create(raw_calendar, acting_user)
            record_action(
                acting_user,
                "create integration",
                raw_calendar=raw_calendar,
                integration=outcome.integration,
                succeeded=True,
                message=outcome.summary(raw_calendar),
            )
    except PROBLEMS as exc:
        record_action(
            acting_user,
            "create integration",
            raw_calendar=raw_calendar,
            succeeded=False,
            message=str(exc),
        )
        raise
    return outcome


@sensitive_variables("grant")
def _create(raw_calendar: RawCalendar, acting_user: AbstractBaseUser | None) -> CreateOutcome:
    with transaction.atomic():
        # Locking the raw calendar serialises concurrent creates for it: the second waits
        # here, then finds the first one's integration instead of calling the API again.
        raw_calendar = (
            RawCalendar.objects.select_for_update()
            .select_related("credential__oauth_app")
            .get(pk=raw_calendar.pk)
        )
        live = raw_calendar.integrations.live().order_by("-pk").first()
        if live is not None:
            return CreateOutcome(live, created=False)
        if raw_calendar.integrations.revoked().exists():
            # Meeting BaaS keeps a revoked connection and refuses a second one (409).
            raise errors.InvalidRequest(REVOKED_NOT_RECREATED)
        credential = raw_calendar.credential
        client = meetingbaas.client()
        grant = credential.grant()
        remote, adopted = _create_or_adopt(client, credential, raw_calendar, grant)
        try:
            with transaction.atomic():
                integration = create_from_remote(
                    credential, raw_calendar, remote, client.api_version
                )
        except IntegrityError:
            # Another path stored this remote connection first (a reconciling refresh).
            existing = Integration.objects.get(remote_id=remote.remote_id)
            return CreateOutcome(existing, created=False, adopted=True)
        adopted_note = "Adopted an existing Meeting BaaS connection. " if adopted else ""
        integration.record_first_status(adopted_note + integration.error_message, user=acting_user)
        # Meeting BaaS may announce a connection before this create has committed.
        queue.enqueue_on_commit("retry_unknown_connection", str(remote.remote_id), group="webhooks")
    logger.info(
        "integration created id=%s remote_id=%s adopted=%s",
        integration.pk,
        remote.remote_id,
        adopted,
    )
    return CreateOutcome(integration, created=True, adopted=adopted)


@sensitive_variables("grant")
def _create_or_adopt(
    client: meetingbaas.Client, credential: Credential, raw_calendar: RawCalendar, grant: object
) -> tuple[RemoteConnection, bool]:
    try:
        return client.create_connection(grant, raw_calendar.provider_id), False
    except errors.PlanLimitReached as exc:
        raise errors.ConnectionLimitReached(
            connections.refused_words(exc.message), http_status=exc.http_status, code=exc.code
        ) from exc
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


@sensitive_variables("grant")
def push_credentials(
    integration_id: int,
    *,
    acting_user: AbstractBaseUser | None = None,
    cause: Cause = Cause.ADMIN_ACTION,
) -> Integration:
    """PATCH the integration's current OAuth fields to Meeting BaaS, then refresh it."""
    integration = Integration.objects.select_related("credential__oauth_app").get(pk=integration_id)
    grant = integration.credential.grant()
    try:
        meetingbaas.client(integration.api_version).update_credentials(integration.remote_id, grant)
    except errors.NotFound as exc:
        mark_disconnected(
            integration_id,
            message=str(exc),
            cause=cause_of_news(cause, PortalStatus.DISCONNECTED),
            acting_user=acting_user,
        )
        raise
    return refresh_integration(integration_id, cause=cause, acting_user=acting_user)


def resubscribe_integration(
    integration_id: int, *, acting_user: AbstractBaseUser | None = None
) -> Integration:
    """Renew the integration's push subscription (v2), then refresh it."""
    integration = Integration.objects.get(pk=integration_id)
    meetingbaas.client(integration.api_version).resubscribe(integration.remote_id)
    return refresh_integration(integration_id, cause=Cause.ADMIN_ACTION, acting_user=acting_user)


def disconnect_integration(
    integration_id: int, *, acting_user: AbstractBaseUser | None = None
) -> Integration:
    """Delete the connection on Meeting BaaS and keep the integration, disconnected, as history."""
    integration = Integration.objects.get(pk=integration_id)
    if integration.is_reachable:
        # A connection already gone remotely is the outcome we want.
        with contextlib.suppress(errors.NotFound):
            meetingbaas.client(integration.api_version).delete_connection(integration.remote_id)
    who = acting_user.get_username() if acting_user is not None else "the portal"
    return mark_disconnected(
        integration_id,
        message=f"{DISCONNECTED_BY}{who}.",
        cause=Cause.ADMIN_ACTION,
        acting_user=acting_user,
    )


def recreate_integration(
    integration_id: int, *, acting_user: AbstractBaseUser | None = None
) -> Integration:
    """Recreate a disconnected integration from its raw calendar (once, however often asked)."""
    integration = Integration.objects.select_related("raw_calendar").get(pk=integration_id)
    if integration.is_live:
        raise errors.InvalidRequest(
            "Only a disconnected integration can be recreated; this one is live."
        )
    if integration.is_revoked:
        raise errors.InvalidRequest(REVOKED_NOT_RECREATED)
    _may_connect_again(integration.raw_calendar, acting_user)
    return _create(integration.raw_calendar, acting_user).integration


def disconnected_on_purpose(raw_calendar: RawCalendar) -> bool:
    """Whether the raw calendar's last integration was disconnected by a person's Disconnect."""
    last = raw_calendar.integrations.order_by("-pk").first()
    if last is None or last.is_live:
        return False
    change = last.status_changes.filter(to_status=PortalStatus.DISCONNECTED).order_by("-pk")
    message = change.values_list("message", flat=True).first() or ""
    return message.startswith(DISCONNECTED_BY)


def _may_connect_again(raw_calendar: RawCalendar, acting_user: AbstractBaseUser | None) -> None:
    # Disconnect is the Admin role's; connecting again what an Admin disconnected on purpose
    # is too, or Support could undo the decision.
    if acting_user is None or acting_user.has_perm("calendars.disconnect_integration"):
        return
    if disconnected_on_purpose(raw_calendar):
        raise errors.InvalidRequest(
            f"An Admin disconnected {raw_calendar} on purpose: only an Admin can connect it again."
        )


def resync_integration(
    integration_id: int, *, acting_user: AbstractBaseUser | None = None
) -> Integration:
    """Ask Meeting BaaS to sync the integration's events again, then refresh its status."""
    integration = Integration.objects.get(pk=integration_id)
    client = meetingbaas.client(integration.api_version)
    try:
        if integration.api_version == ApiVersion.V1:
            _resync_all_v1(client, integration, acting_user)
        else:
            client.resync(integration.remote_id)
    except errors.NotFound as exc:
        return mark_disconnected(
            integration_id, message=str(exc), cause=Cause.REFRESH, acting_user=acting_user
        )
    return refresh_integration(integration_id, cause=Cause.ADMIN_ACTION, acting_user=acting_user)


def _resync_all_v1(
    client: meetingbaas.Client, integration: Integration, acting_user: AbstractBaseUser | None
) -> None:
    """v1 resyncs every calendar at once: its answer updates every v1 integration it names,
    then fails this resync if this calendar failed."""
    outcome = client.resync_all()
    apply_resync_outcome(outcome, cause=Cause.ADMIN_ACTION, acting_user=acting_user)
    if integration.remote_id in outcome.errors:
        raise errors.MeetingBaasError(outcome.errors[integration.remote_id])
