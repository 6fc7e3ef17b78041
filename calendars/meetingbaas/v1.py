"""Meeting BaaS API v1 (`/calendars/...`), per shared/meetingbaas/openapi.json.

v1 calendars carry no status: a calendar that answers is syncing until a sync has been
seen (it has events, or a `calendar.sync_events` webhook came), then active.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from django.views.decorators.debug import sensitive_variables

from calendars.meetingbaas import errors
from calendars.meetingbaas.bots import v1_listed
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
from calendars.meetingbaas.status import v1_portal_status
from calendars.meetingbaas.transport import Transport
from calendars.meetingbaas.types import (
    ApiVersion,
    BotConfig,
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
    ResyncOutcome,
    SeriesPage,
)

# Connections a listing hands over at a time, as the v2 listing's pages do.
PAGE = 250
BOT_PAGE = 50  # the largest page of /bots/bots_with_metadata


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

    def connection_pages(self, position: str = "") -> Iterator[tuple[list[RemoteConnection], str]]:
        """Every calendar, a page at a time, from `position` (how many an earlier listing had
        already given; "" for none), each with the position after it ("" after the last).

        v1 has no cursor: each call lists them all again and skips what was done, in the order
        Meeting BaaS lists them (by creation)."""
        listed = self.transport.call("GET", "/calendars/", idempotent=True, parse=_listing)
        done = int(position or 0)
        while True:
            page = listed[done : done + PAGE]
            done += len(page)
            if done >= len(listed):
                yield page, ""
                return
            yield page, str(done)

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

    def list_events(
        self, remote_id: UUID, *, start: datetime, end: datetime, cursor: str | None = None
    ) -> EventPage:
        """One page (of up to 100, v1's size) of the events starting within the window."""
        params = {
            "calendar_id": str(remote_id),
            "start_date_gte": iso_z(start),
            "start_date_lte": iso_z(end),
            "status": "all",  # v1's default, "upcoming", would leave out the window's past
        }
        if cursor:
            params["cursor"] = cursor
        return call_about_events(
            self.transport, "GET", "/calendar_events/", params=params, parse=_event_page
        )

    def iter_events(
        self, remote_id: UUID, *, start: datetime, end: datetime
    ) -> Iterator[RemoteEvent]:
        """Every event of the window, page after page (a bounded number of pages)."""
        return iter_pages(
            lambda cursor: self.list_events(remote_id, start=start, end=end, cursor=cursor)
        )

    def list_series(self, remote_id: UUID, cursor: str | None = None) -> SeriesPage:
        raise errors.NotSupported("API v1 lists no event series; list the events instead.")

    def list_bots(self, *, ended_after: datetime, cursor: str | None = None) -> BotPage:
        """One page (of up to 50, v1's largest) of the account's bots that ended after
        `ended_after`."""
        moment = ended_after.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")  # the spec's format
        params = {"limit": BOT_PAGE, "ended_after": moment}
        if cursor:
            params["cursor"] = cursor
        return self.transport.call(
            "GET", "/bots/bots_with_metadata", params=params, idempotent=True, parse=_bot_page
        )

    def get_event(self, remote_id: UUID, event_id: UUID | str) -> RemoteEvent:
        def parse(body: object) -> RemoteEvent:
            # v1 finds events by their own id alone: another calendar's is not this one's.
            if isinstance(body, dict) and str(body.get("calendar_uuid")) != str(remote_id):
                raise errors.EventNotFound(f"event {event_id} belongs to another calendar")
            return _event(body)

        return call_about_events(self.transport, "GET", f"/calendar_events/{event_id}", parse=parse)

    def schedule_bot(
        self,
        remote_id: UUID,
        *,
        config: BotConfig,
        event_id: UUID | str | None = None,
        series_id: str | None = None,
        all_occurrences: bool = False,
    ) -> BotScheduling:
        """Schedule `config`'s bot on the event (and, with `all_occurrences`, its series).

        v1 answers all or nothing: a refusal is an error (BotConflict when one is already
        scheduled), never a partial result.
        """
        return self._bots(
            "POST", event_id, series_id, all_occurrences, config=config, idempotent=False
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
        return self._bots("PATCH", event_id, series_id, all_occurrences, config=config)

    def remove_bot(
        self,
        remote_id: UUID,
        *,
        event_id: UUID | str | None = None,
        series_id: str | None = None,
        all_occurrences: bool = False,
    ) -> BotScheduling:
        """Unschedule the bot; v1 does not mind when none was scheduled."""
        return self._bots("DELETE", event_id, series_id, all_occurrences)

    def _bots(
        self,
        method: str,
        event_id: UUID | str | None,
        series_id: str | None,
        all_occurrences: bool,
        *,
        config: BotConfig | None = None,
        idempotent: bool = True,
    ) -> BotScheduling:
        """`method` on the bot of the event named (POST, PATCH with `config`; DELETE)."""
        return call_about_events(
            self.transport,
            method,
            f"/calendar_events/{self._event_of(event_id, series_id, all_occurrences)}/bot",
            params=_occurrences(all_occurrences),
            json=None if config is None else _config_body(config),
            idempotent=idempotent,
            parse=lambda body: _scheduling(body, removed=method == "DELETE"),
        )

    @staticmethod
    def _event_of(event_id: UUID | str | None, series_id: str | None, all_occurrences: bool) -> str:
        require_target(event_id, series_id, all_occurrences)
        if event_id is None:
            raise errors.NotSupported(
                "API v1 addresses bots by event: name one event of the series."
            )
        return str(event_id)

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


def _event(data: object) -> RemoteEvent:
    if not isinstance(data, dict):
        raise errors.BadResponse("an event is not an object")
    url = bounded(data.get("meeting_url")) or None
    start, end = timestamp(data, "start_time"), timestamp(data, "end_time")
    if start is None or end is None:
        raise errors.BadResponse("an event has no start or end time")
    bot = data.get("bot_param")
    organizer = _organizer(data.get("raw"))
    return RemoteEvent(
        event_id=uuid_of(data, "uuid"),
        series_id=bounded(data.get("recurring_event_id"), 1024),
        title=bounded(require(data, "name", str)) or "",
        start=start,
        end=end,
        status=_status(data),
        meeting_url=url,
        platform=platform_of(url),
        is_recurring=data.get("is_recurring") is True,
        organizer_email=organizer,
        bot=_bot(bot) if isinstance(bot, dict) else None,
        updated_at=timestamp(data, "last_updated_at"),
        attendee_domains=attendee_domains(data.get("attendees"), organizer),
        is_organizer=data["is_organizer"] if isinstance(data.get("is_organizer"), bool) else None,
        **_declined(data.get("raw")),
    )


def _status(data: dict) -> EventStatus:
    """v1 says only whether an event is deleted; the provider's event it passes on (`raw`)
    says whether it is tentative: Google's `status`, Microsoft's `showAs`."""
    if data.get("deleted") is True:
        return EventStatus.CANCELLED
    raw = data.get("raw") if isinstance(data.get("raw"), dict) else {}
    if "tentative" in (raw.get("status"), raw.get("showAs")):
        return EventStatus.TENTATIVE
    return EventStatus.CONFIRMED


def _declined(raw: object) -> dict:
    """Who declined, from the provider's event v1 passes on (its Attendee has no response):
    Google's `attendees[].responseStatus` (and `self`), Microsoft's
    `attendees[].status.response` and the account's own `responseStatus.response`."""
    if not isinstance(raw, dict):
        return {}
    emails, own = set(), False
    people = raw.get("attendees")
    for attendee in people[:MAX_ATTENDEES] if isinstance(people, list) else []:
        if not isinstance(attendee, dict):
            continue
        status, mailbox = attendee.get("status"), attendee.get("emailAddress")
        response = attendee.get("responseStatus") or (
            status.get("response") if isinstance(status, dict) else None
        )
        address = attendee.get("email") or (
            mailbox.get("address") if isinstance(mailbox, dict) else None
        )
        if response == "declined" and isinstance(address, str):
            emails.add(address.lower())
            own = own or attendee.get("self") is True
    mine = raw.get("responseStatus")
    own = own or (isinstance(mine, dict) and mine.get("response") == "declined")
    return {"declined_by": frozenset(emails), "self_declined": own}


def _organizer(raw: object) -> str | None:
    """v1 names no organizer but passes the provider's event on: Google's or Microsoft's shape."""
    organizer = raw.get("organizer") if isinstance(raw, dict) else None
    if not isinstance(organizer, dict):
        return None
    address = organizer.get("email") or (organizer.get("emailAddress") or {}).get("address")
    return bounded(address, EMAIL_MAX_CHARS) if isinstance(address, str) else None


def _bot(param: dict) -> RemoteBot:
    mode = param.get("recording_mode")
    return RemoteBot(
        bot_name=bounded(param.get("bot_name"), 255),
        recording_mode=str(mode) if isinstance(mode, str) else None,
    )


def _event_page(body: object) -> EventPage:
    events = [_event(item) for item in require(body, "data", list)]
    return EventPage(events=events, next_cursor=optional_str(body, "next") or None)


def _bot_page(body: object) -> BotPage:
    bots = [v1_listed(item) for item in require(body, "bots", list)]
    return BotPage(bots=bots, next_cursor=optional_str(body, "next_cursor") or None)


def _scheduling(body: object, *, removed: bool = False) -> BotScheduling:
    """v1 answers the events it changed; one still without (or still with) a bot was not."""
    if not isinstance(body, list):
        raise errors.BadResponse("a bot call did not answer a list of events")
    events = [_event(item) for item in body]
    done = [e.event_id for e in events if (e.bot is None) == removed]
    return BotScheduling(succeeded=done, failed=[])


def _occurrences(all_occurrences: bool) -> dict[str, str]:
    return {"all_occurrences": "true"} if all_occurrences else {}


@sensitive_variables("body")
def _config_body(config: BotConfig) -> dict[str, Any]:
    """The bot settings as v1's BotParam spells them; unset ones left out."""
    optional = {
        "recording_mode": config.recording_mode and str(config.recording_mode),
        "bot_image": config.bot_image,
        "enter_message": config.entry_message,
        "waiting_room_timeout": config.waiting_room_timeout,
        "noone_joined_timeout": config.no_one_joined_timeout,
        "silence_timeout": config.silence_timeout,
        "webhook_url": config.callback_url,
        "extra": dict(config.extra) if config.extra else None,
    }
    body = {"bot_name": config.bot_name}
    body |= {name: value for name, value in optional.items() if value is not None}
    if config.transcription_enabled:
        body["speech_to_text"] = {
            "provider": "Gladia",
            "api_key": config.transcription_api_key,
        }
    return body
