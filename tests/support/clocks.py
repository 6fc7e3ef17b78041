"""The moments a time-sensitive test must pass at, whatever the day it happens to run.

`pytest --clocks` runs every test marked `clock` once more at each moment below, under a clock
that time-machine moves there and lets tick (threads in this process, such as the sandbox and
the live server, see it too; processes the test starts, the browser and the database do not).
Each moment comes with the TIME_ZONE the portal runs in for it, so that days and times shown to
people are also tried where the local day is not UTC's and across a daylight-saving change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True, slots=True)
class Moment:
    name: str
    at: datetime
    time_zone: str


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


MOMENTS = (
    # A fresh clone failed on a Monday at 04:34 UTC: no event in the day before.
    Moment("monday-0430", _utc("2026-12-07T04:30:00"), "UTC"),
    Moment("saturday-235930", _utc("2026-12-12T23:59:30"), "UTC"),
    # Where it is already Monday morning: the local day is not UTC's.
    Moment("sunday-1200", _utc("2026-12-13T12:00:00"), "Pacific/Auckland"),
    # Europe's clocks go forward at 01:00 UTC (02:00 CET becomes 03:00 CEST).
    Moment("eu-dst-before", _utc("2027-03-28T00:59:59"), "Europe/Paris"),
    Moment("eu-dst-after", _utc("2027-03-28T01:00:01"), "Europe/Paris"),
    # The US's at 07:00 UTC (02:00 EST becomes 03:00 EDT).
    Moment("us-dst-before", _utc("2027-03-14T06:59:59"), "America/New_York"),
    Moment("us-dst-after", _utc("2027-03-14T07:00:01"), "America/New_York"),
    Moment("new-year", _utc("2027-12-31T23:59:30"), "UTC"),
    Moment("leap-day", _utc("2028-02-29T12:00:00"), "UTC"),
)
