"""The sandbox's calendar events: made up per connection, the same every time for a connection.

A connection's calendar holds, from two weeks before the day it was created to thirty days
after: a weekly sync (Google Meet) and a Monday-Wednesday-Friday standup (Zoom), both
recurring; on every day, weekends included, a one-off at 14:00 UTC that cycles through a Teams
call, a Meet interview, "Focus time" without a meeting URL, a Zoom planning and a demo on
another platform; and on the next day a cancelled offsite. Any day-long window, whatever the
weekday or hour it ends at, thus holds a meeting. The control API adds, moves and cancels
events, changes their meeting URL, and declines them for the calendar's account.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sandbox.state import SandboxConnection

DAYS_BEHIND = 14
DAYS_AHEAD = 30
EXTERNAL_ORGANIZER = "pat@customer.example"


@dataclass(slots=True)
class SandboxEvent:
    id: uuid.UUID
    connection_id: uuid.UUID
    series_id: uuid.UUID
    title: str
    start: datetime
    end: datetime
    meeting_url: str | None
    organizer_email: str
    is_recurring: bool
    created_at: datetime
    updated_at: datetime
    status: str = "confirmed"  # or tentative, cancelled
    is_exception: bool = False
    # Who else is invited besides the organizer (e-mail addresses).
    attendees: tuple[str, ...] = ()
    # The calendar's own account declined it (the provider's response status).
    declined: bool = False
    # The settings the bot was scheduled with, as sent; they may hold keys, so out of repr.
    bot: dict | None = field(default=None, repr=False)

    @property
    def provider_id(self) -> str:
        """The id the calendar provider gives the event (v1's `google_id`)."""
        return f"evt{self.id.hex[:20]}"

    @property
    def provider_series_id(self) -> str | None:
        """v1's `recurring_event_id`: the provider's id of the series, for recurring events."""
        return f"rec{self.series_id.hex[:20]}" if self.is_recurring else None

    @property
    def meeting_platform(self) -> str | None:
        """What Meeting BaaS reports in `meeting_platform` (v2): zoom, meet, teams or null."""
        url = self.meeting_url or ""
        for needle, platform in (("zoom.us", "zoom"), ("meet.google", "meet"), ("teams.", "teams")):
            if needle in url:
                return platform
        return None

    def responses(self, account_email: str) -> list[tuple[str, str]]:
        """Everyone invited and their answer: the organizer first, the other attendees, then
        the calendar's own account when it is neither (it accepted, or `declined`)."""
        people = [self.organizer_email, *(a for a in self.attendees if a != self.organizer_email)]
        if account_email and account_email not in people:
            people.append(account_email)
        own = "declined" if self.declined else "accepted"
        return [(person, own if person == account_email else "accepted") for person in people]


def meeting_urls(connection_id: uuid.UUID) -> dict[str, str]:
    digits = str(connection_id.int)[:10]
    code = connection_id.hex
    return {
        "meet": f"https://meet.google.com/{code[0:3]}-{code[3:7]}-{code[7:10]}",
        "zoom": f"https://us02web.zoom.us/j/{digits}?pwd={code[:16]}",
        "teams": f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_{code[:24]}%40thread.v2/0",
        "other": f"https://whereby.com/demo-{code[:8]}",
    }


# (key, title, hour, minutes long, URL kind or None, organized by someone else)
ONE_OFFS = (
    ("customer", "Customer call", 14, 45, "teams", True),
    ("interview", "Interview", 14, 60, "meet", False),
    ("focus", "Focus time", 14, 120, None, False),
    ("planning", "Quarterly planning", 14, 60, "zoom", False),
    ("demo", "Vendor demo", 14, 30, "other", True),
)


def fake_events(connection: SandboxConnection) -> list[SandboxEvent]:
    """The calendar `connection` starts with (see the module docstring)."""
    first_day = datetime.combine(connection.created_at.astimezone(UTC).date(), time(), UTC)
    urls = meeting_urls(connection.id)
    owner = connection.account_email
    made = connection.created_at

    def event(key: str, day: int, title: str, hour: int, minutes: int, **rest: object):
        start = first_day + timedelta(days=day, hours=hour)
        recurring = bool(rest.pop("recurring", False))
        series_key = f"series:{key}" if recurring else f"series:{key}:{day}"
        return SandboxEvent(
            id=uuid.uuid5(connection.id, f"{key}:{day}"),
            connection_id=connection.id,
            series_id=uuid.uuid5(connection.id, series_key),
            title=title,
            start=start,
            end=start + timedelta(minutes=minutes),
            is_recurring=recurring,
            created_at=made,
            updated_at=made,
            **rest,
        )

    events = []
    for day in range(-DAYS_BEHIND, DAYS_AHEAD + 1):
        weekday = (first_day + timedelta(days=day)).weekday()
        if day % 7 == 1:
            events.append(
                event(
                    "weekly",
                    day,
                    "Weekly sync",
                    10,
                    30,
                    meeting_url=urls["meet"],
                    organizer_email=owner,
                    recurring=True,
                )
            )
        if weekday in (0, 2, 4):
            events.append(
                event(
                    "standup",
                    day,
                    "Team standup",
                    9,
                    15,
                    meeting_url=urls["zoom"],
                    organizer_email=owner,
                    recurring=True,
                )
            )
        key, title, hour, minutes, kind, external = ONE_OFFS[day % len(ONE_OFFS)]
        events.append(
            event(
                key,
                day,
                title,
                hour,
                minutes,
                meeting_url=urls.get(kind or ""),
                organizer_email=EXTERNAL_ORGANIZER if external else owner,
            )
        )
    events.append(
        event(
            "offsite",
            1,
            "Team offsite",
            16,
            90,
            meeting_url=urls["zoom"],
            organizer_email=owner,
            status="cancelled",
        )
    )
    return sorted(events, key=lambda e: (e.start, str(e.id)))


def new_event(
    connection: SandboxConnection,
    *,
    title: str,
    start: datetime,
    end: datetime,
    meeting_url: str | None,
    moment: datetime,
    organizer_email: str | None = None,
    attendees: tuple[str, ...] = (),
    status: str = "confirmed",
    is_recurring: bool = False,
) -> SandboxEvent:
    """An event a person adds through the control API (organized by the calendar's account
    unless told otherwise)."""
    return SandboxEvent(
        id=uuid.uuid4(),
        connection_id=connection.id,
        series_id=uuid.uuid4(),
        title=title,
        start=start,
        end=end,
        meeting_url=meeting_url,
        organizer_email=organizer_email or connection.account_email,
        is_recurring=is_recurring,
        created_at=moment,
        updated_at=moment,
        status=status,
        attendees=attendees,
    )
