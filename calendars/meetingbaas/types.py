"""Plain values that cross the line between the client and the rest of the portal."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from calendars.status import PortalStatus


class ApiVersion(enum.StrEnum):
    V1 = "v1"
    V2 = "v2"


class Platform(enum.StrEnum):
    GOOGLE = "google"
    MICROSOFT = "microsoft"


@dataclass(frozen=True)
class OAuthGrant:
    """What the API needs to act for one account. Secrets stay out of repr()."""

    platform: Platform
    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)
    tenant_id: str = "common"


@dataclass(frozen=True)
class RemoteRawCalendar:
    id: str
    name: str
    email: str
    is_primary: bool


@dataclass(frozen=True)
class RemoteConnection:
    """A calendar connection as Meeting BaaS describes it, with the portal status it implies.

    Fields the API version or endpoint does not provide are None.
    """

    remote_id: UUID
    portal_status: PortalStatus
    portal_message: str = ""
    platform: str | None = None
    account_email: str = ""
    raw_calendar_id: str | None = None
    status: str | None = None
    status_message: str | None = None
    sync_status: str | None = None
    sync_error: str | None = None
    synced_at: datetime | None = None
    subscription_expires_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    is_detailed: bool = True


@dataclass(frozen=True)
class ResyncOutcome:
    """v1 resyncs every calendar at once and reports failures per calendar."""

    synced: list[UUID]
    errors: dict[UUID, str]
