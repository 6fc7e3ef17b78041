"""Lengths of time as a person says them ("2 h 14 min", "3 days"), for "broken for" columns."""

from __future__ import annotations

from datetime import timedelta

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR


def duration_words(length: timedelta) -> str:
    """`length` in the largest units that still say something: never "0 minutes".

    A negative length (a clock a little ahead of ours) reads as "under a minute": the moment is
    now, as far as anyone can tell. Hours are kept beside a single day ("1 day 5 h") because
    the difference matters to someone deciding what to fix first; beyond that, days alone.
    """
    seconds = max(0, int(length.total_seconds()))
    if seconds < MINUTE:
        return "under a minute"
    if seconds < HOUR:
        return f"{seconds // MINUTE} min"
    if seconds < DAY:
        hours, minutes = divmod(seconds // MINUTE, 60)
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, rest = divmod(seconds, DAY)
    if days == 1:
        hours = rest // HOUR
        return f"1 day {hours} h" if hours else "1 day"
    return f"{days} days"
