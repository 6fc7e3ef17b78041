"""Credentials and OAuth apps: what a credential can see, and replacing their secrets.

A replaced secret is pushed to every live integration that uses it by a bulk job, started
here in the same transaction that stores it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from calendars import meetingbaas
from calendars.actions import bulk
from calendars.actions.audit import record_action
from calendars.lib.remote_values import fit
from calendars.lib.words import counted
from calendars.meetingbaas import errors
from calendars.meetingbaas.types import Platform
from calendars.models import BulkJob, Credential, Integration, OAuthApp, RawCalendar
from calendars.problems import PROBLEMS
from calendars.status import Cause


@dataclass(frozen=True)
class SecretReplaced:
    """A secret stored, and the job pushing it to the live integrations (None: none uses it)."""

    what: str  # "new refresh token of alice@example.com"
    job: BulkJob | None
    pushed_to: int


@sensitive_variables("grant")
def list_raw_calendars(
    credential: Credential, *, acting_user: AbstractBaseUser | None = None
) -> list[RawCalendar]:
    """Ask Meeting BaaS which calendars the credential can see, and store them."""
    try:
        grant = credential.grant()
        remote = meetingbaas.client().list_raw_calendars(grant)
    except PROBLEMS as exc:
        if isinstance(exc, errors.MeetingBaasError) and not exc.transient:
            _record_check(credential, ok=False, message=str(exc))
        record_action(
            acting_user,
            "list raw calendars",
            credential=credential,
            succeeded=False,
            message=str(exc),
        )
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
        message = f"{counted(len(stored), 'calendar')} listed."
        if len(storable) < len(remote):
            message += f" {len(remote) - len(storable)} left out: their ids are too long or odd."
        _record_check(credential, ok=True, message=message)
        record_action(
            acting_user,
            "list raw calendars",
            credential=credential,
            succeeded=True,
            message=f"{len(stored)} listed",
        )
    return stored


def _record_check(credential: Credential, *, ok: bool, message: str) -> None:
    now = timezone.now()
    # A Microsoft refresh token unused for 90 days dies: a successful listing used it.
    used = {"last_used_at": now} if ok and credential.provider == Platform.MICROSOFT else {}
    Credential.objects.filter(pk=credential.pk).update(
        last_checked_at=now,
        last_check_ok=ok,
        last_check_message=fit(Credential, "last_check_message", message),
        **used,
    )


@sensitive_variables("refresh_token")
def replace_refresh_token(
    credential_id: int,
    refresh_token: str,
    *,
    acting_user: AbstractBaseUser | None = None,
    cause: Cause = Cause.ADMIN_ACTION,
) -> SecretReplaced:
    """Store a new refresh token and start pushing it to the integrations that use it (for
    the account's owner, with `cause` OWNER_CONSENT)."""
    with transaction.atomic():
        # A new token is a new grant: its owner consented now, as far as the portal knows.
        credential = _replace_secret(
            Credential, credential_id, "refresh_token", refresh_token, consented_at=timezone.now()
        )
        live = credential.integrations.pushable()
        return _push(
            live,
            f"new refresh token of {credential.account_email}",
            acting_user=acting_user,
            record={"action": "replace refresh token", "credential": credential},
            cause=cause,
        )


@sensitive_variables("client_secret")
def rotate_client_secret(
    oauth_app_id: int, client_secret: str, *, acting_user: AbstractBaseUser | None = None
) -> SecretReplaced:
    """Store a new client secret and start pushing it to the integrations that use it."""
    with transaction.atomic():
        app = _replace_secret(OAuthApp, oauth_app_id, "client_secret", client_secret)
        live = Integration.objects.pushable().filter(credential__oauth_app=app)
        return _push(
            live,
            f"new client secret of {app.name}",
            acting_user=acting_user,
            record={"action": "rotate client secret", "oauth_app": app},
        )


@sensitive_variables("value")
def _replace_secret[M: (Credential, OAuthApp)](
    model: type[M], pk: int, field: str, value: str, **also: object
) -> M:
    # History never holds the secret; its *_replaced_at field records that it changed.
    obj = model.objects.select_for_update().get(pk=pk)
    setattr(obj, field, value)
    setattr(obj, f"{field}_replaced_at", timezone.now())
    for name, other in also.items():
        setattr(obj, name, other)
    obj.save()
    return obj


def _push(
    live: QuerySet[Integration],
    what: str,
    *,
    acting_user: AbstractBaseUser | None,
    record: dict,
    cause: Cause = Cause.ADMIN_ACTION,
) -> SecretReplaced:
    # Only what the job's description names: an app's secret may serve 100,000 integrations.
    targets = list(live.select_related("credential__customer").only("credential__customer__name"))
    given = " (the account owner's consent)" if cause == Cause.OWNER_CONSENT else ""
    record_action(
        acting_user, succeeded=True, message=f"stored{given}; {len(targets)} to push", **record
    )
    if not targets:
        return SecretReplaced(what, job=None, pushed_to=0)
    job = bulk.start(
        BulkJob.Kind.PUSH_CREDENTIALS,
        [i.pk for i in targets],
        acting_user=acting_user,
        description=f"{what} for {bulk.describe_target(targets)}",
        cause=cause,
    )
    return SecretReplaced(what, job=job, pushed_to=len(targets))
