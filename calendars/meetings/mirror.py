"""The local mirror of each integration's meetings, from a day behind to MEETINGS_WINDOW_DAYS
ahead.

Applying is idempotent and safe out of order: each meeting keeps the time as of which its
state was true remotely (`remote_updated_at`), and news older than that is ignored. Callers
hold the integration's row lock, so a webhook and a window sync of one calendar never
interleave; the meeting rows are locked too, because a bot verb writes them alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from calendars.lib.remote_values import fit
from calendars.meetingbaas.types import EventStatus, RemoteEvent
from calendars.models import Integration, Meeting
from calendars.status import is_older

# The columns a remote event sets (bot_failure and auto_bot_at are the portal's own).
MIRRORED = (
    "series_id",
    "title",
    "starts_at",
    "ends_at",
    "meeting_url",
    "platform",
    "is_cancelled",
    "is_recurring",
    "organizer_email",
    "has_bot",
    "bot_summary",
    "bot_failure",
    "synced_at",
    "remote_updated_at",
)
# What makes a meeting worth another look by the bot policy when it changes.
WATCHED = ("meeting_url", "starts_at", "is_cancelled", "has_bot")


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    def holds(self, moment: datetime) -> bool:
        return self.start <= moment <= self.end


def whole_second(moment: datetime) -> datetime:
    """When a listing or fetch began, as a webhook's time would say it.

    Svix times are whole seconds: a webhook sent in the same second as a listing began ties
    with it rather than losing, and the one applied last stands.
    """
    return moment.replace(microsecond=0)


def window(now: datetime | None = None) -> Window:
    """The meetings the portal keeps: started within the last day, or starting soon."""
    now = now or timezone.now()
    return Window(now - timedelta(days=1), now + timedelta(days=settings.MEETINGS_WINDOW_DAYS))


@dataclass
class Applied:
    """What applying news did; `touched` are the meetings new or changed where it matters."""

    created: int = 0
    changed: int = 0
    unchanged: int = 0
    stale: int = 0
    removed: int = 0
    touched: list[int] = field(default_factory=list)

    @property
    def applied(self) -> int:
        return self.created + self.changed + self.unchanged + self.removed


def apply_events(
    integration: Integration,
    events: Iterable[RemoteEvent],
    *,
    as_of: datetime,
    within: Window | None = None,
) -> Applied:
    """Store `events` (true remotely at `as_of`) unless newer news is held; an event that
    moved out of the window leaves the mirror."""
    within = within or window()
    latest = {event.event_id: event for event in events}  # a repeated event: its last word
    held = {
        m.remote_event_id: m
        for m in Meeting.objects.select_for_update()
        .filter(integration=integration, remote_event_id__in=list(latest))
        .order_by("pk")
    }
    result = Applied()
    new, rewritten, same, leaving = [], [], [], []
    now = timezone.now()
    for event_id, event in latest.items():
        meeting = held.get(event_id)
        if meeting is not None and is_older(as_of, meeting.remote_updated_at):
            result.stale += 1
        elif not within.holds(event.start):
            if meeting is not None:
                leaving.append(meeting.pk)
        elif meeting is None:
            new.append(_fill(Meeting(integration=integration, remote_event_id=event_id), event))
        else:
            before = {name: getattr(meeting, name) for name in MIRRORED}
            _fill(meeting, event)
            differing = [name for name, value in before.items() if getattr(meeting, name) != value]
            if differing:
                rewritten.append((meeting, differing))
            else:
                same.append(meeting.pk)
            if set(differing).intersection(WATCHED):
                result.changed += 1
                result.touched.append(meeting.pk)
            else:
                result.unchanged += 1
    for meeting in new:
        meeting.synced_at = now
        meeting.remote_updated_at = as_of
    Meeting.objects.bulk_create(new)
    # Each changed meeting gets one UPDATE of its changed columns: bulk_update's CASE per
    # column and row costs more to build than these cost to run. News that changes nothing
    # is one UPDATE for all such meetings.
    for meeting, differing in rewritten:
        Meeting.objects.filter(pk=meeting.pk).update(
            **{name: getattr(meeting, name) for name in differing},
            synced_at=now,
            remote_updated_at=_later(as_of, meeting.remote_updated_at),
        )
    if same:
        Meeting.objects.filter(pk__in=same).update(
            synced_at=now,
            remote_updated_at=Greatest(Coalesce("remote_updated_at", Value(as_of)), Value(as_of)),
        )
    result.created = len(new)
    result.touched += [m.pk for m in new]
    if leaving:
        result.removed = _delete(Meeting.objects.filter(pk__in=leaving))
    return result


def remove_events(integration: Integration, event_ids: Iterable[object], *, as_of: datetime) -> int:
    """Forget events Meeting BaaS no longer has, unless newer news about them is held."""
    gone = Meeting.objects.filter(integration=integration, remote_event_id__in=list(event_ids))
    return _delete(gone.filter(Q(remote_updated_at__isnull=True) | Q(remote_updated_at__lte=as_of)))


def prune_unlisted(
    integration: Integration, listed: set[object], *, as_of: datetime, within: Window
) -> int:
    """After a complete listing of the window, forget the integration's meetings it lacked
    (deleted remotely) and those outside the window; news newer than the listing stays."""
    outside = Q(starts_at__lt=within.start) | Q(starts_at__gt=within.end)
    missing = ~Q(remote_event_id__in=listed) & (
        Q(remote_updated_at__isnull=True) | Q(remote_updated_at__lte=as_of)
    )
    # One delete: each costs a collecting SELECT first (the bot history keeps its rows).
    return _delete(Meeting.objects.filter(Q(integration=integration) & (outside | missing)))


def prune_outside(within: Window | None = None) -> int:
    """Forget every meeting that left the window (inactive integrations' ones included)."""
    within = within or window()
    return _delete(
        Meeting.objects.filter(Q(starts_at__lt=within.start) | Q(starts_at__gt=within.end))
    )


def _delete(meetings: object) -> int:
    return meetings.delete()[1].get("calendars.Meeting", 0)


def _fill(meeting: Meeting, event: RemoteEvent) -> Meeting:
    """`meeting` with what `event` says; fields the news lacks (None) keep what is held."""
    if event.series_id is not None:
        meeting.series_id = fit(Meeting, "series_id", event.series_id)
    if event.organizer_email is not None:
        meeting.organizer_email = fit(Meeting, "organizer_email", event.organizer_email)
    meeting.title = fit(Meeting, "title", event.title)
    meeting.starts_at = event.start
    meeting.ends_at = event.end
    meeting.meeting_url = fit(Meeting, "meeting_url", event.meeting_url)
    meeting.platform = event.platform
    meeting.is_cancelled = event.status == EventStatus.CANCELLED
    meeting.is_recurring = event.is_recurring
    meeting.has_bot = event.bot is not None
    if event.bot is None:
        meeting.bot_summary = ""
    else:
        meeting.bot_failure = ""
        # v2 only says that a bot is scheduled: the settings the portal sent stay.
        if event.bot.bot_name or not meeting.bot_summary:
            meeting.bot_summary = fit(Meeting, "bot_summary", event.bot.summary)
    return meeting


def _later(moment: datetime, held: datetime | None) -> datetime:
    return moment if held is None or moment > held else held
