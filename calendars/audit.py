"""Recording what people asked the portal to do (the ActionRecord log)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from calendars.lib.remote_values import fit
from calendars.models import ActionRecord, Credential, Integration, OAuthApp, RawCalendar


def record_action(
    user: AbstractBaseUser | None,
    action: str,
    *,
    succeeded: bool,
    message: str = "",
    integration: Integration | None = None,
    credential: Credential | None = None,
    oauth_app: OAuthApp | None = None,
    raw_calendar: RawCalendar | None = None,
) -> ActionRecord:
    return ActionRecord.objects.create(
        action=action,
        user=user if user and user.is_authenticated else None,
        username=user.get_username() if user and user.is_authenticated else "system",
        succeeded=succeeded,
        message=fit(ActionRecord, "message", message),
        integration=integration,
        credential=credential,
        oauth_app=oauth_app,
        raw_calendar=raw_calendar,
    )
