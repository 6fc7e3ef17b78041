"""The bot follows its meeting: a meeting with a bot that moves or changes its meeting URL keeps
a bot that joins at its new time and URL; one cancelled, or declined by the calendar's account,
loses its bot.

Neither API's calendar bot has a time or URL of its own: it joins its event as Meeting BaaS
holds it (v2: "the bot will use the meeting URL from the event"), and a bot update (v2 PATCH
/v2/calendars/{id}/bots, v1 PATCH /calendar_events/{uuid}/bot) changes only its settings. So
Meeting BaaS moves the bot with its event, and the portal verifies it by reading the event back
(its time, URL and whether a bot is scheduled), schedules the bot again where the change lost
it, and records the check (`BotAttempt`, "Bot follows the meeting"); a bot that does not match
leaves the reason on the meeting (`bot_failure`). A bot no longer changes within
BOT_CHANGE_DEADLINE of joining (v2 PATCH: "the join time must be at least 4 minutes in the
future", 409 otherwise; the bot is on its way): a change that close to the start, the old one or
the new, is *changed too late* (`Meeting.bot_changed_late_at`), on "Meetings at risk".

v2's listings and webhooks name no attendees: a v2 `calendar.event_updated` about a meeting with a
bot is read back too, as the event's detail says who declined.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from uuid import UUID

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format

from calendars import queue
from calendars.lib.remote_values import fit
from calendars.meetingbaas import client
from calendars.meetingbaas.errors import EventNotFound
from calendars.meetingbaas.types import RemoteEvent
from calendars.meetings import bots, mirror, policy
from calendars.models import BotAttempt, Integration, Meeting
from calendars.problems import PROBLEMS

logger = logging.getLogger(__name__)
# Both specs' window for changing a calendar bot: v2 PATCH "the join time must be at least 4
# minutes in the future" (v1 gives no figure and is taken to keep the same rule).
BOT_CHANGE_DEADLINE = timedelta(minutes=4)
FOLLOW = BotAttempt.Action.FOLLOW


def consider(
    integration: Integration,
    applied: mirror.Applied,
    *,
    as_of: datetime,
    updated: Iterable[UUID] = (),
) -> int:
    """After news true at `as_of` (the integration locked): mark the meetings whose bot was
    moved too late, queue the follow-up of the others, and of the `updated` events with a bot
    (to learn who declined); returns how many are followed up."""
    updated = list(updated)
    if not (applied.moved or applied.dropped or updated):
        return 0  # most news: nothing to follow (and no query to build)
    now = timezone.now()
    moved = Meeting.objects.filter(integration=integration, remote_event_id__in=list(applied.moved))
    late, in_time = [], []
    for meeting in moved.exclude(remote_event_id__in=applied.dropped):
        was_at = applied.moved[meeting.remote_event_id]
        # Meeting BaaS saw the change when it happened (the news' time), however late the
        # portal hears of it.
        soonest = min(was_at, meeting.starts_at)
        (late if soonest - as_of < BOT_CHANGE_DEADLINE else in_time).append(meeting)
    for meeting in late:
        _changed_too_late(meeting, applied.moved[meeting.remote_event_id], as_of)
    checked = set(updated) - set(applied.moved) - set(applied.dropped)
    # With a bot (declined since?), or declined (accepted again?).
    looked_at = list(
        Meeting.objects.filter(
            Q(has_bot=True) | Q(is_declined=True),
            integration=integration,
            remote_event_id__in=list(checked),
            starts_at__gt=now,
        ).values_list("pk", flat=True)
    )
    dropped = list(
        Meeting.objects.filter(
            integration=integration, remote_event_id__in=applied.dropped
        ).values_list("pk", flat=True)
    )
    followed = dropped + [meeting.pk for meeting in in_time]
    if followed:
        queue.enqueue_on_commit("follow_meetings", followed, True, group="bots")
    if looked_at:
        queue.enqueue_on_commit("follow_meetings", looked_at, False, group="bots")
    return len(followed) + len(looked_at)


def follow(meeting_ids: list[int], *, changed: bool = True) -> list[bots.Outcome]:
    """Make each meeting's bot follow it: removed from a meeting cancelled or declined, else
    read back (and scheduled again where it was lost); `changed`: the meeting moved or its URL
    changed, and the check is recorded even when the bot followed by itself."""
    outcomes = []
    for meeting in _meetings(meeting_ids):
        if meeting.starts_at <= timezone.now():
            continue  # begun: the bot is in it or not
        if meeting.has_bot and (meeting.is_cancelled or meeting.is_declined):
            outcomes.extend(_remove(meeting))
            continue
        outcome = _read_back(meeting, changed)
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes


def _meetings(meeting_ids: list[int]) -> list[Meeting]:
    return list(
        Meeting.objects.filter(pk__in=meeting_ids)
        .select_related("integration__credential")
        .order_by("starts_at", "pk")
    )


def _remove(meeting: Meeting) -> list[bots.Outcome]:
    why = "The meeting was cancelled" if meeting.is_cancelled else "The calendar's account declined"
    outcomes = bots.remove([meeting.pk], acting_user=None, because=f"{why}: ")
    if outcomes and outcomes[0].succeeded:
        # Not a person's choice: a meeting accepted or restored again wants its bot again
        # from the policy (which never asks for a cancelled or declined one).
        Meeting.objects.filter(pk=meeting.pk).update(auto_bot_at=None)
    return outcomes


def _read_back(meeting: Meeting, changed: bool) -> bots.Outcome | None:
    """Read the meeting's event back and judge its bot; None when there is nothing to say."""
    try:
        event = _fetch(meeting)
        if event.bot is None and not changed:
            # Nothing lost: accepted again, it is the policy's to give it a bot.
            policy.consider(meeting.integration, [meeting.remote_event_id])
            return None
        if event.bot is None and not (meeting.is_cancelled or meeting.is_declined):
            again = bots.schedule([meeting.pk], acting_user=None)[0]
            if not again.succeeded:
                return _record(meeting, False, f"The change lost its bot: {again.message}")
            event = _fetch(meeting)
    except EventNotFound:
        return None  # gone at Meeting BaaS: the next news removes it from the mirror
    except PROBLEMS as exc:
        return _record(meeting, False, f"Could not read the meeting back: {exc}")
    if meeting.is_cancelled or meeting.is_declined:
        return _remove(meeting)[0] if meeting.has_bot else None
    differs = _difference(meeting, event)
    if differs:
        return _record(meeting, False, f"Read back at Meeting BaaS, {differs}.")
    if not changed and not meeting.bot_failure:
        return None
    Meeting.objects.filter(pk=meeting.pk).update(bot_failure="", bot_changed_late_at=None)
    when = date_format(timezone.localtime(event.start), "DATETIME_FORMAT")
    where = event.meeting_url or "no meeting URL"
    return _record(meeting, True, f"Read back at Meeting BaaS: its bot joins at {when} on {where}.")


def _fetch(meeting: Meeting) -> RemoteEvent:
    """The meeting's event as Meeting BaaS holds it, applied to the mirror as true now
    (`meeting` reloaded)."""
    integration = meeting.integration
    as_of = mirror.whole_second(timezone.now())
    event = client(integration.api_version).get_event(
        integration.remote_id, meeting.remote_event_id
    )
    with transaction.atomic():
        locked = Integration.objects.select_for_update().get(pk=integration.pk)
        locked.credential = integration.credential
        mirror.apply_events(locked, [event], as_of=as_of)
    meeting.refresh_from_db()
    return event


def _difference(meeting: Meeting, event: RemoteEvent) -> str:
    """How the bot Meeting BaaS holds differs from the meeting ("" when it matches)."""
    if event.bot is None:
        return "the meeting has no bot"
    if event.start != meeting.starts_at:
        held = date_format(timezone.localtime(event.start), "DATETIME_FORMAT")
        return f"its bot joins at {held}, not at the meeting's time"
    if fit(Meeting, "meeting_url", event.meeting_url) != meeting.meeting_url:
        return f"its bot joins {event.meeting_url or 'no meeting URL'}, not the meeting's URL"
    return ""


def _changed_too_late(meeting: Meeting, was_at: datetime, now: datetime) -> None:
    Meeting.objects.filter(pk=meeting.pk).update(bot_changed_late_at=now)
    before = max(min(was_at, meeting.starts_at) - now, timedelta(0))
    minutes = int(before.total_seconds() // 60)
    _record(
        meeting,
        False,
        f"Changed too late: the meeting moved or its URL changed {minutes} min before its start; "
        f"Meeting BaaS changes no bot within {int(BOT_CHANGE_DEADLINE.total_seconds() // 60)} "
        "minutes of joining, so its bot may join at the old time or URL.",
        # Its own reason on "Meetings at risk", not a failed scheduling.
        on_meeting=False,
    )


def _record(
    meeting: Meeting, succeeded: bool, message: str, *, on_meeting: bool = True
) -> bots.Outcome:
    if not succeeded and on_meeting:
        Meeting.objects.filter(pk=meeting.pk).update(
            bot_failure=fit(Meeting, "bot_failure", message)
        )
    bots.attempt(meeting, FOLLOW, succeeded, message)
    logger.info("bot follow on meeting %s: %s", meeting.pk, message)
    return bots.Outcome(meeting=meeting, succeeded=succeeded, message=message)
