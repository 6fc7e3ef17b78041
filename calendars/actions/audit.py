"""Recording what people asked the portal to do (the ActionRecord log).

The verbs write these themselves, in their own transaction, so no entry point (admin, a
command, a public page) can forget one.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser

from calendars.lib.remote_values import fit
from calendars.models import ActionRecord, Credential, Integration, OAuthApp, RawCalendar


def record_action(
    user: AbstractBaseUser | None,
    action: str,
    *,
    succeeded: bool | None,
    message: str = "",
    integration: Integration | None = None,
    credential: Credential | None = None,
    oauth_app: OAuthApp | None = None,
    raw_calendar: RawCalendar | None = None,
) -> ActionRecord:
    return ActionRecord.objects.create(
        action=action,
        **_who(user),
        succeeded=succeeded,
        message=fit(ActionRecord, "message", message),
        integration=integration,
        credential=credential,
        oauth_app=oauth_app,
        raw_calendar=raw_calendar,
    )


def record_for_each(
    user: AbstractBaseUser | None, action: str, integration_ids: Iterable[int], *, message: str
) -> None:
    """One record per integration queued in a bulk job, written together (a job's thousands):
    neither done nor failed yet (the job records each one's outcome as it finishes)."""
    ActionRecord.objects.bulk_create(
        ActionRecord(
            action=action,
            **_who(user),
            succeeded=None,
            message=fit(ActionRecord, "message", message),
            integration_id=pk,
        )
        for pk in integration_ids
    )


def _who(user: AbstractBaseUser | None) -> dict:
    if user is not None and user.is_authenticated:
        return {"user": user, "username": user.get_username()}
    return {"user": None, "username": "system"}
