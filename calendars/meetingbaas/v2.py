"""Meeting BaaS API v2 (`/v2/calendars...`), per shared/meetingbaas/openapi-v2.json."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

from django.views.decorators.debug import sensitive_variables

from calendars.meetingbaas import errors
from calendars.meetingbaas.parsing import optional_str, require, timestamp, uuid_of
from calendars.meetingbaas.status import v2_portal_status
from calendars.meetingbaas.transport import Transport
from calendars.meetingbaas.types import (
    ApiVersion,
    OAuthGrant,
    Platform,
    RemoteConnection,
    RemoteRawCalendar,
)

PAGE_SIZE = 250  # the largest page GET /v2/calendars serves


class V2Client:
    api_version = ApiVersion.V2

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def list_raw_calendars(self, grant: OAuthGrant) -> list[RemoteRawCalendar]:
        return self.transport.call(
            "POST",
            "/v2/calendars/list-raw",
            json=_grant_body(grant),
            idempotent=True,
            parse=_raw_calendars,
        )

    def create_connection(self, grant: OAuthGrant, raw_calendar_id: str) -> RemoteConnection:
        return self.transport.call(
            "POST",
            "/v2/calendars",
            json={**_grant_body(grant), "raw_calendar_id": raw_calendar_id},
            idempotent=False,
            parse=lambda body: _connection(
                require(body, "data", dict), raw_calendar_id=raw_calendar_id
            ),
        )

    def get_connection(self, remote_id: UUID) -> RemoteConnection:
        return self.transport.call(
            "GET",
            f"/v2/calendars/{remote_id}",
            idempotent=True,
            parse=lambda body: _connection(require(body, "data", dict)),
        )

    def list_connections(
        self, *, account_email: str | None = None, platform: Platform | None = None
    ) -> Iterator[RemoteConnection]:
        params: dict[str, str | int] = {"limit": PAGE_SIZE}
        if account_email:
            params["account_email"] = account_email
        if platform:
            params["calendar_platform"] = str(platform)
        while True:
            page, cursor = self.transport.call(
                "GET", "/v2/calendars", params=params, idempotent=True, parse=_page
            )
            yield from page
            if not cursor:
                return
            params["cursor"] = cursor

    @sensitive_variables("body")
    def update_credentials(self, remote_id: UUID, grant: OAuthGrant) -> None:
        body = _grant_body(grant)
        del body["calendar_platform"]  # PATCH takes only the OAuth fields
        self.transport.call("PATCH", f"/v2/calendars/{remote_id}", json=body, idempotent=True)

    def delete_connection(self, remote_id: UUID) -> None:
        self.transport.call("DELETE", f"/v2/calendars/{remote_id}", idempotent=True)

    def resync(self, remote_id: UUID) -> None:
        self.transport.call("POST", f"/v2/calendars/{remote_id}/sync", json={}, idempotent=True)

    def resubscribe(self, remote_id: UUID) -> None:
        self.transport.call(
            "POST", f"/v2/calendars/{remote_id}/resubscribe", json={}, idempotent=True
        )

    def find_connection(
        self, grant: OAuthGrant, account_email: str, raw_calendar_id: str, exclude: set[UUID]
    ) -> RemoteConnection | None:
        """Find the account's connection for `raw_calendar_id` among those not in `exclude`."""
        candidates = [
            c
            for c in self.list_connections(account_email=account_email, platform=grant.platform)
            if c.remote_id not in exclude
        ]
        detailed = [self.get_connection(c.remote_id) for c in candidates]
        matching = [c for c in detailed if c.raw_calendar_id == raw_calendar_id]
        if matching:
            return matching[0]
        # The spec leaves provider_metadata open; when it names no calendar, a single
        # unknown connection for the account can only be the one we asked for.
        unnamed = [c for c in detailed if c.raw_calendar_id is None]
        if len(unnamed) == 1 and len(detailed) == 1:
            return unnamed[0]
        return None


def _raw_calendars(body: object) -> list[RemoteRawCalendar]:
    return [
        RemoteRawCalendar(
            id=str(require(item, "id", str)),
            name=str(item.get("name") or ""),
            email=str(item.get("email") or ""),
            is_primary=bool(item.get("is_primary")),
        )
        for item in require(body, "data", list)
    ]


def _page(body: object) -> tuple[list[RemoteConnection], str | None]:
    items = [_connection(item, is_detailed=False) for item in require(body, "data", list)]
    cursor = body.get("cursor")
    return items, str(cursor) if cursor else None


@sensitive_variables("body")
def _grant_body(grant: OAuthGrant) -> dict[str, str]:
    body = {
        "calendar_platform": str(grant.platform),
        "oauth_client_id": grant.client_id,
        "oauth_client_secret": grant.client_secret,
        "oauth_refresh_token": grant.refresh_token,
    }
    if grant.platform == Platform.MICROSOFT:
        body["oauth_tenant_id"] = grant.tenant_id or "common"
    return body


def _connection(
    data: dict, *, raw_calendar_id: str | None = None, is_detailed: bool = True
) -> RemoteConnection:
    if not isinstance(data, dict):
        raise errors.BadResponse("a calendar connection is not an object")
    status = optional_str(data, "status")
    synced_at = timestamp(data, "synced_at")
    sync_status = optional_str(data, "sync_status")
    status_message = optional_str(data, "status_message")
    sync_error = optional_str(data, "sync_error")
    portal_status, message = v2_portal_status(
        status,
        synced_at=synced_at,
        sync_status=sync_status,
        status_message=status_message,
        sync_error=sync_error,
    )
    metadata = data.get("provider_metadata")
    if raw_calendar_id is None and isinstance(metadata, dict):
        raw_calendar_id = optional_str(metadata, "raw_calendar_id")
    return RemoteConnection(
        remote_id=uuid_of(data, "calendar_id"),
        portal_status=portal_status,
        portal_message=message,
        platform=optional_str(data, "calendar_platform"),
        account_email=str(data.get("account_email") or ""),
        raw_calendar_id=raw_calendar_id,
        status=status,
        status_message=status_message,
        sync_status=sync_status,
        sync_error=sync_error,
        synced_at=synced_at,
        subscription_expires_at=timestamp(data, "subscription_expires_at"),
        created_at=timestamp(data, "created_at"),
        updated_at=timestamp(data, "updated_at"),
        is_detailed=is_detailed,
    )
