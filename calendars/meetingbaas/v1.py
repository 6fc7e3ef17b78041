"""Meeting BaaS API v1 (`/calendars/...`), per shared/meetingbaas/openapi.json.

v1 calendars carry no status: a calendar that answers is syncing until a sync has been
seen (it has events, or a `calendar.sync_events` webhook came), then active.
"""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

from calendars.meetingbaas import errors
from calendars.meetingbaas.parsing import optional_str, require, uuid_of
from calendars.meetingbaas.status import v1_portal_status
from calendars.meetingbaas.transport import Transport
from calendars.meetingbaas.types import (
    ApiVersion,
    OAuthGrant,
    Platform,
    RemoteConnection,
    RemoteRawCalendar,
    ResyncOutcome,
)


class V1Client:
    api_version = ApiVersion.V1

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def list_raw_calendars(self, grant: OAuthGrant) -> list[RemoteRawCalendar]:
        return self.transport.call(
            "POST", "/calendars/raw", json=_grant_body(grant), idempotent=True, parse=_raw_calendars
        )

    def create_connection(self, grant: OAuthGrant, raw_calendar_id: str) -> RemoteConnection:
        return self.transport.call(
            "POST",
            "/calendars/",
            json={**_grant_body(grant), "raw_calendar_id": raw_calendar_id},
            idempotent=False,
            parse=lambda body: _connection(require(body, "calendar", dict), has_synced=False),
        )

    def get_connection(self, remote_id: UUID) -> RemoteConnection:
        has_synced = self._has_events(remote_id)
        return self.transport.call(
            "GET",
            f"/calendars/{remote_id}",
            idempotent=True,
            parse=lambda body: _connection(body, has_synced=has_synced),
        )

    def list_connections(
        self, *, account_email: str | None = None, platform: Platform | None = None
    ) -> Iterator[RemoteConnection]:
        # v1 lists every calendar of the team in one answer and filters nothing server-side.
        listed = self.transport.call("GET", "/calendars/", idempotent=True, parse=_listing)
        for connection in listed:
            if account_email is None or connection.account_email == account_email:
                yield connection

    def update_credentials(self, remote_id: UUID, grant: OAuthGrant) -> None:
        self.transport.call(
            "PATCH", f"/calendars/{remote_id}", json=_grant_body(grant), idempotent=True
        )

    def delete_connection(self, remote_id: UUID) -> None:
        self.transport.call("DELETE", f"/calendars/{remote_id}", idempotent=True)

    def resync(self, remote_id: UUID) -> None:
        """v1 has no per-calendar resync: resync all, and fail if this calendar failed."""
        outcome = self.resync_all()
        if remote_id in outcome.errors:
            raise errors.MeetingBaasError(outcome.errors[remote_id])

    def resubscribe(self, remote_id: UUID) -> None:
        raise errors.InvalidRequest("API v1 has no push subscriptions to renew.")

    def resync_all(self) -> ResyncOutcome:
        return self.transport.call(
            "POST", "/calendars/resync_all", json={}, idempotent=True, parse=_resync_outcome
        )

    def find_connection(
        self, grant: OAuthGrant, account_email: str, raw_calendar_id: str, exclude: set[UUID]
    ) -> RemoteConnection | None:
        """Find the account's calendar for `raw_calendar_id` among those not in `exclude`."""
        for connection in self.list_connections(account_email=account_email):
            if (
                connection.remote_id not in exclude
                and connection.raw_calendar_id == raw_calendar_id
            ):
                return connection
        return None

    def _has_events(self, remote_id: UUID) -> bool:
        return self.transport.call(
            "GET",
            "/calendar_events/",
            params={"calendar_id": str(remote_id), "status": "all"},
            idempotent=True,
            parse=lambda body: bool(require(body, "data", list)),
        )


def _raw_calendars(body: object) -> list[RemoteRawCalendar]:
    return [
        RemoteRawCalendar(
            id=str(require(item, "id", str)),
            # v1 names no calendar; its e-mail is the best label there is.
            name=str(item.get("name") or item.get("email") or item["id"]),
            email=str(item.get("email") or ""),
            is_primary=bool(item.get("is_primary")),
        )
        for item in require(body, "calendars", list)
    ]


def _listing(body: object) -> list[RemoteConnection]:
    if not isinstance(body, list):
        raise errors.BadResponse("GET /calendars/ did not answer a list")
    return [_connection(item, has_synced=False, is_detailed=False) for item in body]


def _resync_outcome(body: object) -> ResyncOutcome:
    try:
        synced = [UUID(str(u)) for u in require(body, "synced_calendars", list)]
        failed = {
            UUID(str(pair[0])): str(pair[1])
            for pair in require(body, "errors", list)
            if isinstance(pair, list) and len(pair) == 2
        }
    except ValueError as exc:
        raise errors.BadResponse("resync_all named a calendar that is not a UUID") from exc
    return ResyncOutcome(synced=synced, errors=failed)


def _grant_body(grant: OAuthGrant) -> dict[str, str]:
    return {
        "platform": grant.platform.title(),
        "oauth_client_id": grant.client_id,
        "oauth_client_secret": grant.client_secret,
        "oauth_refresh_token": grant.refresh_token,
    }


def _connection(data: dict, *, has_synced: bool, is_detailed: bool = True) -> RemoteConnection:
    if not isinstance(data, dict):
        raise errors.BadResponse("a calendar is not an object")
    portal_status, message = v1_portal_status(has_synced=has_synced)
    return RemoteConnection(
        remote_id=uuid_of(data, "uuid"),
        portal_status=portal_status,
        portal_message=message,
        account_email=str(data.get("email") or ""),
        raw_calendar_id=optional_str(data, "google_id"),
        is_detailed=is_detailed,
    )
