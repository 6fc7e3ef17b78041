"""What the v2 event webhooks say about meetings, read as the client reads its answers.

`calendar.events_synced` lists series with their instances; `event_created`, `event_updated`
and `event_cancelled` name one series and its instances (`instances`, `affected_instances`,
`cancelled_instances`). The webhooks carry no organizer: the mirror keeps the one it holds.
"""

from __future__ import annotations

from calendars.meetingbaas.errors import BadResponse
from calendars.meetingbaas.meeting_urls import platform_of
from calendars.meetingbaas.parsing import bounded, optional_str, require, timestamp, uuid_of
from calendars.meetingbaas.types import EventStatus, RemoteBot, RemoteEvent
from calendars.meetingbaas.v2 import event_status

INSTANCES = {
    "calendar.event_created": "instances",
    "calendar.event_updated": "affected_instances",
    "calendar.event_cancelled": "cancelled_instances",
}


def events_in(event: str, data: dict) -> list[RemoteEvent]:
    """The event instances a v2 event webhook describes (BadResponse when it is malformed)."""
    if event == "calendar.events_synced":
        return [
            instance
            for series in require(data, "events", list)
            for instance in _series_instances(series, "instances")
        ]
    return _series_instances(data, INSTANCES[event], cancelled=event == "calendar.event_cancelled")


def _series_instances(series: object, key: str, *, cancelled: bool = False) -> list[RemoteEvent]:
    if not isinstance(series, dict):
        raise BadResponse("a series is not an object")
    return [_instance(item, series, cancelled) for item in require(series, key, list)]


def _instance(item: object, series: dict, cancelled: bool) -> RemoteEvent:
    if not isinstance(item, dict):
        raise BadResponse("an event instance is not an object")
    start, end = timestamp(item, "start"), timestamp(item, "end")
    if start is None or end is None:
        raise BadResponse("an event instance has no start or end")
    url = bounded(item.get("meeting_url")) or None
    status = EventStatus.CANCELLED if cancelled else event_status(item.get("status"))
    return RemoteEvent(
        event_id=uuid_of(item, "event_id"),
        series_id=optional_str(series, "series_id"),
        title=bounded(item.get("title")) or "",
        start=start,
        end=end,
        status=status,
        meeting_url=url,
        platform=platform_of(url),
        is_recurring=series.get("event_type") == "recurring",
        bot=RemoteBot() if item.get("bot_scheduled") is True else None,
    )
