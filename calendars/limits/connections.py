"""The plan's calendar connection cap (MEETINGBAAS_MAX_CALENDARS) before a create calls.

Meeting BaaS answers a create past the cap with a 429 (the spec: "429 if the calendar
connection limit is exceeded"), like a rate limit but one waiting will not lift. The portal
counts the connections it holds from the maintained counts (IntegrationCount, a few rows): its
live integrations, both API versions together. Connections it does not hold (orphans,
revoked grants kept at Meeting BaaS) count there too, so the warning comes a little early
rather than late: it warns from NEAR of the cap.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import Sum

from calendars.lib.words import counted
from calendars.models import IntegrationCount
from calendars.status import PortalStatus

# Warn when the creates asked for bring the connections to this share of the cap or past it.
NEAR = 0.9
NO_RETRY = "its connection limit: trying again will not help"
WAYS_OUT = (
    "Disconnect integrations no one needs, or move to a larger plan and set "
    "MEETINGBAAS_MAX_CALENDARS."
)


@dataclass(frozen=True)
class Room:
    cap: int  # 0: no cap known
    in_use: int

    @property
    def left(self) -> int:
        return max(self.cap - self.in_use, 0)


def room() -> Room:
    """The plan's cap and the live integrations the portal counts against it."""
    live = IntegrationCount.objects.exclude(status=PortalStatus.DISCONNECTED)
    return Room(settings.MEETINGBAAS_MAX_CALENDARS, live.aggregate(n=Sum("count"))["n"] or 0)


def before_creating(asking: int) -> str:
    """What to tell a person about to create `asking` integrations near or past the cap ("" when
    far from it, or when no cap is set)."""
    now = room()
    if not now.cap or asking <= 0 or now.in_use + asking < NEAR * now.cap:
        return ""
    allows = _allows(now)
    if asking <= now.left:
        after = now.in_use + asking
        return (
            f"{allows}: after {'this one' if asking == 1 else f'these {asking}'}, {after} of "
            f"{now.cap} are in use, and Meeting BaaS refuses any past {now.cap} (HTTP 429)."
        )
    return (
        f"{allows}: only {now.left} of the {asking} asked for fit. Meeting BaaS refuses the "
        f"others (HTTP 429, {NO_RETRY}). {WAYS_OUT}"
    )


def standing() -> str:
    """What a page offering creates says before anything is asked, near or at the cap ("" far
    from it, or when no cap is set)."""
    now = room()
    if not now.cap or now.in_use < NEAR * now.cap:
        return ""
    if now.left:
        return (
            f"{_allows(now)}: {now.left} more fit, and Meeting BaaS refuses any create past "
            f"{now.cap} (HTTP 429)."
        )
    return (
        f"{_allows(now)}: none more fit. Meeting BaaS refuses a create (HTTP 429, {NO_RETRY}). "
        f"{WAYS_OUT}"
    )


def _allows(now: Room) -> str:
    return (
        f"The plan allows {now.cap} calendar connections (MEETINGBAAS_MAX_CALENDARS) and the "
        f"portal holds {now.in_use}"
    )


def refused_words(message: str) -> str:
    """The API's words for a create refused at the cap, with the portal's count."""
    now = room()
    cap = f"of the plan's {now.cap}" if now.cap else "(MEETINGBAAS_MAX_CALENDARS is not set)"
    held = f"The portal holds {counted(now.in_use, 'live integration')} {cap}."
    return f"{message.rstrip('.')}. {held}" if message else held
