"""A person's recording override on a meeting: *always* or *never* recorded, whatever the
recording rules say, or back to following them.

The override is the portal's own column (the mirror never writes it): no rule, sync or webhook
changes it afterwards. Setting it is recorded like every bot action (a `BotAttempt`), and the
bot is made to match at once: *always* schedules one, *never* removes one. Back to the rules,
the meeting keeps its bot or lack of one until the policy next looks at it.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from calendars.meetings import bots
from calendars.models import BotAttempt, Meeting

Override = Meeting.Override
ACTIONS = {
    Override.ALWAYS: BotAttempt.Action.ALWAYS,
    Override.NEVER: BotAttempt.Action.NEVER,
    "": BotAttempt.Action.FOLLOW_RULES,
}
SAID = {
    Override.ALWAYS: "Always recorded, whatever the recording rules say.",
    Override.NEVER: "Never recorded, whatever the recording rules say.",
    "": "Recorded as the recording rules say.",
}


def set_override(
    meeting_ids: Iterable[int], override: str, *, acting_user: AbstractBaseUser
) -> list[bots.Outcome]:
    """Set each meeting's override ("" to follow the rules again) and make its bot match."""
    action = ACTIONS[override]
    done: list[bots.Outcome] = []
    meetings = Meeting.objects.filter(pk__in=list(meeting_ids)).order_by("starts_at", "pk")
    for meeting in meetings:
        # The bot first, so that the override is the meeting's last word (its outcome names
        # who set it).
        if override == Override.ALWAYS and not meeting.has_bot and not meeting.is_cancelled:
            done += bots.schedule([meeting.pk], acting_user=acting_user)
        elif override == Override.NEVER and meeting.has_bot:
            done += bots.remove([meeting.pk], acting_user=acting_user)
        with transaction.atomic():
            Meeting.objects.filter(pk=meeting.pk).update(bot_override=override, rule_reason="")
            bots.attempt(
                meeting,
                action,
                True,
                SAID[override],
                user=acting_user,
                username=acting_user.get_username(),
            )
        done.append(bots.Outcome(meeting, True, SAID[override]))
    return done
