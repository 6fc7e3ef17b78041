"""Meeting BaaS API v2 (`/v2/calendars...`), per shared/meetingbaas/openapi-v2.json."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.views.decorators.debug import sensitive_variables

from calendars.meetingbaas import errors
from calendars.meetingbaas.bots import v2_listed
from calendars.meetingbaas.events import call_about_events, iso_z, iter_pages, require_target
from calendars.meetingbaas.meeting_urls import platform_of
from calendars.meetingbaas.parsing import (
    EMAIL_MAX_CHARS,
    MAX_ATTENDEES,
    attendee_domains,
    bounded,
    optional_str,
    require,
    timestamp,
    uuid_of,
)
from calendars.meetingbaas.status import v2_portal_status
from calendars.meetingbaas.transport import Transport
from calendars.meetingbaas.types import (
    ApiVersion,
    BotConfig,
    BotFailure,
    BotPage,
    BotScheduling,
    EventPage,
    EventStatus,
    OAuthGrant,
    Platform,
    RemoteBot,
    RemoteConnection,
    RemoteEvent,
    RemoteRawCalendar,
    RemoteSeries,
    SeriesPage,
)

PAGE_SIZE = 250  # the largest page GET /v2/calendars, /events and /series serve


# How far past the window's end a meeting that starts within it may end and still be listed
# (an all-day event lasts a day; longer ones starting at the window's edge are left to the
# next sync, once the window has moved on).
LONGEST_MEETING = timedelta(days=1)


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

    def connection_pages(self, position: str = "") -> Iterator[tuple[list[RemoteConnection], str]]:
        """Every connection, a page at a time, from `position` (a cursor an earlier page gave;
        "" for the first page), each with the position of the page after it ("" after the last):
        a listing that stops can go on from there later, in another process."""
        params: dict[str, str | int] = {"limit": PAGE_SIZE}
        while True:
            if position:
                params["cursor"] = position
            page, cursor = self.transport.call(
                "GET", "/v2/calendars", params=params, idempotent=True, parse=_page
            )
            position = cursor or ""
            yield page, position
            if not position:
                return

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

    def list_events(
        self, remote_id: UUID, *, start: datetime, end: datetime, cursor: str | None = None
    ) -> EventPage:
        """One page of the events starting at or after `start` and ending by `end`."""
        params: dict[str, str | int] = {
            "limit": PAGE_SIZE,
            "start_date": iso_z(start),
            "end_date": iso_z(end),
            # Cancellations are news the portal needs, not noise to filter out.
            "show_cancelled": "true",
        }
        if cursor:
            params["cursor"] = cursor
        return call_about_events(
            self.transport,
            "GET",
            f"/v2/calendars/{remote_id}/events",
            params=params,
            parse=_event_page,
        )

    def iter_events(
        self, remote_id: UUID, *, start: datetime, end: datetime
    ) -> Iterator[RemoteEvent]:
        """Every event starting within the window, page after page (a bounded number of pages).

        v2 filters on when an event ends, the window is about when it starts: a meeting that
        starts before the window's end may end after it, so the listing reaches
        LONGEST_MEETING further and leaves out what starts later.
        """
        pages = iter_pages(
            lambda cursor: self.list_events(
                remote_id, start=start, end=end + LONGEST_MEETING, cursor=cursor
            )
        )
        return (event for event in pages if event.start <= end)

    def list_series(self, remote_id: UUID, cursor: str | None = None) -> SeriesPage:
        params: dict[str, str | int] = {"limit": PAGE_SIZE, "show_cancelled": "true"}
        if cursor:
            params["cursor"] = cursor
        return call_about_events(
            self.transport,
            "GET",
            f"/v2/calendars/{remote_id}/series",
            params=params,
            parse=_series_page,
        )

    def list_bots(self, *, ended_after: datetime, cursor: str | None = None) -> BotPage:
        """One page of the account's bots that ended after `ended_after`."""
        params: dict[str, str | int] = {"limit": PAGE_SIZE, "ended_after": iso_z(ended_after)}
        if cursor:
            params["cursor"] = cursor
        return self.transport.call(
            "GET", "/v2/bots", params=params, idempotent=True, parse=_bot_page
        )

    def get_event(self, remote_id: UUID, event_id: UUID | str) -> RemoteEvent:
        return call_about_events(
            self.transport,
            "GET",
            f"/v2/calendars/{remote_id}/events/{event_id}",
            parse=lambda body: _event(require(body, "data", dict)),
        )

    def schedule_bot(
        self,
        remote_id: UUID,
        *,
        config: BotConfig,
        event_id: UUID | str | None = None,
        series_id: str | None = None,
        all_occurrences: bool = False,
    ) -> BotScheduling:
        """Schedule `config`'s bot on one event, or on every future occurrence of a series.

        v2 always wants the series: without `series_id`, the event is read first to learn it.
        An event that could not get its bot (no meeting URL, one already scheduled...) is in
        the answer's `failed`, not an error.
        """
        return self._bots(
            "POST",
            remote_id,
            event_id,
            series_id,
            all_occurrences,
            config=config,
            # No idempotency key: a resent create whose answer was lost would be refused
            # event by event as "already scheduled", so it is not resent blindly.
            idempotent=False,
        )

    def update_bot(
        self,
        remote_id: UUID,
        *,
        config: BotConfig,
        event_id: UUID | str | None = None,
        series_id: str | None = None,
        all_occurrences: bool = False,
    ) -> BotScheduling:
        """Give scheduled bots new settings (refused with BotConflict within 4 min of joining)."""
        return self._bots("PATCH", remote_id, event_id, series_id, all_occurrences, config=config)

    def remove_bot(
        self,
        remote_id: UUID,
        *,
        event_id: UUID | str | None = None,
        series_id: str | None = None,
        all_occurrences: bool = False,
    ) -> BotScheduling:
        """Cancel scheduled bots; a bot already in the meeting leaves it."""
        return self._bots("DELETE", remote_id, event_id, series_id, all_occurrences)

    # The body may carry the transcription provider's key: never on an error page.
    @sensitive_variables("body")
    def _bots(
        self,
        method: str,
        remote_id: UUID,
        event_id: UUID | str | None,
        series_id: str | None,
        all_occurrences: bool,
        *,
        config: BotConfig | None = None,
        idempotent: bool = True,
    ) -> BotScheduling:
        """`method` on the bots of the event or series named (POST, PATCH with `config`; DELETE)."""
        body = self._target(remote_id, event_id, series_id, all_occurrences)
        if config is not None:
            body |= _config_body(config)
        return call_about_events(
            self.transport,
            method,
            f"/v2/calendars/{remote_id}/bots",
            json=body,
            idempotent=idempotent,
            parse=_scheduling,
        )

    def _target(
        self,
        remote_id: UUID,
        event_id: UUID | str | None,
        series_id: str | None,
        all_occurrences: bool,
    ) -> dict[str, Any]:
        require_target(event_id, series_id, all_occurrences)
        if series_id is None:
            series_id = self.get_event(remote_id, str(event_id)).series_id
            if series_id is None:
                raise errors.BadResponse(f"event {event_id} belongs to no series")
        target: dict[str, Any] = {"series_id": str(series_id), "all_occurrences": all_occurrences}
        if not all_occurrences:
            target["event_id"] = str(event_id)
        return target


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


def _event(data: object, series: dict | None = None) -> RemoteEvent:
    """An event from a listing, a detail answer or a series (`series` holds what it lacks)."""
    if not isinstance(data, dict):
        raise errors.BadResponse("an event is not an object")
    context = {**(series or {}), **data}
    url = bounded(data.get("meeting_url")) or None
    start, end = timestamp(data, "start_time"), timestamp(data, "end_time")
    if start is None or end is None:
        raise errors.BadResponse("an event has no start or end time")
    organizer = bounded(data.get("organizer_email"), EMAIL_MAX_CHARS)
    return RemoteEvent(
        event_id=uuid_of(data, "event_id"),
        series_id=optional_str(context, "series_id"),
        title=bounded(require(data, "title", str)) or "",
        start=start,
        end=end,
        status=event_status(data.get("status")),
        meeting_url=url,
        platform=platform_of(url),
        is_recurring=context.get("event_type") == "recurring",
        organizer_email=organizer,
        bot=RemoteBot() if data.get("bot_scheduled") is True else None,
        updated_at=timestamp(data, "updated_at"),
        # Only an event's details list attendees (null: none, or none given).
        attendee_domains=attendee_domains(data.get("attendees"), organizer)
        if "attendees" in data
        else None,
        **_declined(data.get("attendees")),
    )


def event_status(value: object) -> EventStatus:
    """v2's status (listings, details and webhooks alike); a tentative meeting may still take
    place: it keeps its bot like a confirmed one unless the customer's rules skip it."""
    if value in (EventStatus.CANCELLED, EventStatus.TENTATIVE):
        return EventStatus(value)
    return EventStatus.CONFIRMED


def _declined(attendees: object) -> dict:
    """Who declined, from the detail's `attendees` (`response_status`, `self`); listings
    have none."""
    if not isinstance(attendees, list):
        return {}
    declined = [
        a
        for a in attendees[:MAX_ATTENDEES]
        if isinstance(a, dict) and a.get("response_status") == "declined"
    ]
    return {
        "declined_by": frozenset(
            str(a["email"]).lower() for a in declined if isinstance(a.get("email"), str)
        ),
        "self_declined": any(a.get("self") is True for a in declined),
    }


def _event_page(body: object) -> EventPage:
    events = [_event(item) for item in require(body, "data", list)]
    return EventPage(events=events, next_cursor=optional_str(body, "cursor") or None)


def _series_page(body: object) -> SeriesPage:
    series = []
    for item in require(body, "data", list):
        instances = require(item, "events", list)
        series.append(
            RemoteSeries(
                series_id=str(uuid_of(item, "series_id")),
                is_recurring=item.get("event_type") == "recurring",
                events=[_event(instance, series=item) for instance in instances],
            )
        )
    return SeriesPage(series=series, next_cursor=optional_str(body, "cursor") or None)


def _bot_page(body: object) -> BotPage:
    bots = [v2_listed(item) for item in require(body, "data", list)]
    return BotPage(bots=bots, next_cursor=optional_str(body, "cursor") or None)


def _scheduling(body: object) -> BotScheduling:
    succeeded = [uuid_of(item, "event_id") for item in require(body, "data", list)]
    failed = [
        BotFailure(
            event_id=uuid_of(item, "event_id"),
            code=bounded(item.get("code"), 200) or "",
            message=bounded(item.get("message")) or "",
            details=bounded(item.get("details")),
        )
        for item in require(body, "errors", list)
    ]
    return BotScheduling(succeeded=succeeded, failed=failed)


@sensitive_variables("body", "transcription")
def _config_body(config: BotConfig) -> dict[str, Any]:
    """The bot settings as POST and PATCH /v2/calendars/{id}/bots take them; unset ones left out."""
    body: dict[str, Any] = {"bot_name": config.bot_name}
    optional = {
        "recording_mode": config.recording_mode and str(config.recording_mode),
        "bot_image": config.bot_image,
        "entry_message": config.entry_message,
        "extra": dict(config.extra) if config.extra else None,
    }
    body |= {name: value for name, value in optional.items() if value is not None}
    timeouts = {
        "waiting_room_timeout": config.waiting_room_timeout,
        "no_one_joined_timeout": config.no_one_joined_timeout,
        "silence_timeout": config.silence_timeout,
    }
    if any(value is not None for value in timeouts.values()):
        body["timeout_config"] = {k: v for k, v in timeouts.items() if v is not None}
    # Both switches are always sent: a PATCH that left one out would keep the old setting.
    body["transcription_enabled"] = config.transcription_enabled
    if config.transcription_enabled:
        transcription: dict[str, Any] = {"provider": "gladia"}
        if config.transcription_api_key:
            transcription["api_key"] = config.transcription_api_key
        body["transcription_config"] = transcription
    body["callback_enabled"] = bool(config.callback_url)
    if config.callback_url:
        callback: dict[str, Any] = {"url": config.callback_url}
        if config.callback_secret:
            callback["secret"] = config.callback_secret
        body["callback_config"] = callback
    return body
