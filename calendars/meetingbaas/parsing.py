"""Reading API bodies defensively: a missing or odd field is a BadResponse, never a crash."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from calendars.lib.remote_values import CUT_MARK, REMOTE_TEXT_MAX_CHARS
from calendars.meetingbaas.errors import BadResponse

# An e-mail address cannot be longer (RFC 5321); a longer "address" is kept cut, for reading.
EMAIL_MAX_CHARS = 254


def require(body: Any, key: str, kind: type | tuple[type, ...] = object) -> Any:
    if not isinstance(body, dict) or key not in body:
        raise BadResponse(f"the answer has no '{key}' field")
    value = body[key]
    if not isinstance(value, kind):
        raise BadResponse(f"'{key}' is {type(value).__name__}, expected {_kind_name(kind)}")
    return value


def optional_str(body: dict, key: str) -> str | None:
    value = body.get(key)
    return None if value is None else str(value)


def bounded(value: object, limit: int = REMOTE_TEXT_MAX_CHARS) -> str | None:
    """Remote text fit to keep in memory and show: NUL replaced, cut with a mark past `limit`.

    Titles, URLs and reasons come from people's calendars and may be of any length.
    """
    if value is None:
        return None
    text = str(value).replace("\x00", "\ufffd")
    return text if len(text) <= limit else text[: limit - len(CUT_MARK)] + CUT_MARK


def uuid_of(body: dict, key: str) -> UUID:
    value = require(body, key, str)
    try:
        return UUID(value)
    except ValueError as exc:
        raise BadResponse(f"'{key}' is not a UUID: {value[:60]!r}") from exc


def timestamp(body: dict, key: str) -> datetime | None:
    value = body.get(key)
    if value in (None, ""):
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise BadResponse(f"'{key}' is not an ISO 8601 time: {str(value)[:60]!r}") from exc
    if parsed.tzinfo is None:
        raise BadResponse(f"'{key}' has no time zone: {str(value)[:60]!r}")
    try:
        # Stored in UTC: "0001-01-01T00:00:00+01:00" is a valid ISO time that UTC cannot hold.
        return parsed.astimezone(UTC)
    except OverflowError as exc:
        raise BadResponse(f"'{key}' is out of range: {str(value)[:60]!r}") from exc


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


# Attendees read of one event at most: a bigger list says no more about who is outside.
MAX_ATTENDEES = 500
# A domain longer than DNS allows is no domain.
DOMAIN_MAX_CHARS = 253


def attendee_domains(attendees: object, organizer: str | None) -> frozenset[str]:
    """The domains of an event's attendees (those who did not decline) and its organizer: the
    addresses themselves go no further."""
    people = attendees[:MAX_ATTENDEES] if isinstance(attendees, list) else []
    addresses = [
        person.get("email")
        for person in people
        if isinstance(person, dict) and person.get("response_status") != "declined"
    ]
    domains = set()
    for address in [*addresses, organizer]:
        if isinstance(address, str) and "@" in address:
            domain = address.rpartition("@")[2].strip().lower().rstrip(".")
            if domain and len(domain) <= DOMAIN_MAX_CHARS:
                domains.add(domain)
    return frozenset(domains)
