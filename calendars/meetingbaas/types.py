"""Plain values that cross the line between the client and the rest of the portal."""

from __future__ import annotations

import enum
from collections.abc import Mapping
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


class MeetingPlatform(enum.StrEnum):
    """Where a meeting happens, as told by its URL (see meeting_urls.platform_of)."""

    ZOOM = "zoom"
    GOOGLE_MEET = "google_meet"
    TEAMS = "teams"
    OTHER = "other"
    NONE = "none"


class EventStatus(enum.StrEnum):
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    TENTATIVE = "tentative"


class RecordingMode(enum.StrEnum):
    SPEAKER_VIEW = "speaker_view"
    GALLERY_VIEW = "gallery_view"
    AUDIO_ONLY = "audio_only"


@dataclass(frozen=True)
class RemoteBot:
    """The bot scheduled on an event, as far as the API describes it.

    Neither API names a calendar bot by an id: it is addressed by its calendar and event.
    v2 only says that one is scheduled (its name and mode stay None); v1 returns its settings.
    """

    bot_name: str | None = None
    recording_mode: str | None = None

    @property
    def summary(self) -> str:
        parts = [part for part in (self.bot_name, self.recording_mode) if part]
        return ", ".join(parts) if parts else "settings not reported by the API"


@dataclass(frozen=True)
class RemoteEvent:
    """One occurrence of a calendar event. Fields the API version or endpoint lacks are None.

    `series_id` is v2's series UUID or v1's provider id of the recurring series, as text.
    """

    event_id: UUID
    title: str
    start: datetime
    end: datetime
    status: EventStatus
    meeting_url: str | None
    platform: MeetingPlatform
    is_recurring: bool
    series_id: str | None = None
    organizer_email: str | None = None
    bot: RemoteBot | None = None
    updated_at: datetime | None = None
    # The domains of the attendees and organizer (their addresses go no further than the
    # parsing), and whether the calendar's account organizes it: None where the answer has
    # no attendees (v2 listings and webhooks).
    attendee_domains: frozenset[str] | None = None
    is_organizer: bool | None = None
    # Who declined it, where the answer lists attendees (None where it does not: v2's listings
    # and webhooks): the lower-cased e-mails of those who declined, and whether the provider
    # marked the calendar's own account as one of them. Never stored: the mirror derives
    # whether the calendar's account declined.
    declined_by: frozenset[str] | None = None
    self_declined: bool = False


@dataclass(frozen=True)
class EventPage:
    events: list[RemoteEvent]
    next_cursor: str | None


@dataclass(frozen=True)
class RemoteSeries:
    """A v2 event series: a one-off event (one instance) or a recurring one."""

    series_id: str
    is_recurring: bool
    events: list[RemoteEvent]


@dataclass(frozen=True)
class SeriesPage:
    series: list[RemoteSeries]
    next_cursor: str | None


@dataclass(frozen=True)
class BotConfig:
    """The bot settings a company chooses per customer; None leaves the API's default.

    Sent as each version spells it (v2 nests the timeouts, v1 calls the entry message
    `enter_message`...). Keys stay out of repr().
    """

    bot_name: str
    recording_mode: RecordingMode | None = None
    bot_image: str | None = None
    entry_message: str | None = None
    waiting_room_timeout: int | None = None
    no_one_joined_timeout: int | None = None
    silence_timeout: int | None = None
    transcription_enabled: bool = False
    transcription_api_key: str | None = field(default=None, repr=False)
    callback_url: str | None = None
    callback_secret: str | None = field(default=None, repr=False)
    extra: Mapping[str, str] | None = None

    @property
    def summary(self) -> str:
        """What a person reads about the bot: v2 reports no settings back, so keep this."""
        return RemoteBot(self.bot_name, self.recording_mode and str(self.recording_mode)).summary


@dataclass(frozen=True)
class BotFailure:
    """Why the API did not act on one event: its `code` and `message`, verbatim (bounded)."""

    event_id: UUID
    code: str
    message: str
    details: str | None = None


@dataclass(frozen=True)
class BotScheduling:
    """What a schedule, update or removal did, event by event (v2 answers partial success)."""

    succeeded: list[UUID]
    failed: list[BotFailure]

    @property
    def is_complete(self) -> bool:
        return not self.failed


# The key of a bot's `extra` that names the portal's meeting (its primary key, as text).
MEETING_KEY = "portal_meeting_id"


class BotStatus(enum.StrEnum):
    """The bot statuses that end a bot's story; any other is on the way."""

    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True)
class BotNews:
    """What Meeting BaaS says of one bot (a bot webhook, or an item of the bots list), as of
    `status_at`. Times it does not give are None; text is bounded."""

    bot_id: UUID
    status: str
    status_at: datetime | None
    event_id: UUID | None = None
    meeting_id: int | None = None  # the portal's meeting named in the bot's `extra`
    joined_at: datetime | None = None
    exited_at: datetime | None = None
    duration_seconds: int | None = None
    error_code: str = ""
    error_message: str = ""

    @property
    def is_final(self) -> bool:
        return self.status in (BotStatus.COMPLETED, BotStatus.FAILED)


@dataclass(frozen=True)
class BotPage:
    bots: list[BotNews]
    next_cursor: str | None
