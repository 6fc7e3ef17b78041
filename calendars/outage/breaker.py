"""The circuit breaker every process shares, its state one row of `ServiceOutage`.

Why the database: it is the one store every web and worker process, on every host, shares in
every deployment (Redis is optional, and Django's default cache is per process), the home page
reads it anyway to say since when Meeting BaaS is unreachable, and it survives a restart, so a
fresh worker does not storm an API that is still down.

Closed, calls go out; each answer (an error included) proves Meeting BaaS reachable. After
MEETINGBAAS_OUTAGE_FAILURES calls in a row without an answer (timeouts, dropped connections,
5xx), from any processes, it opens: "unreachable since" the first of them. Open, no call goes
out (they fail at once with `Unreachable`, saying since when) except one probe per
MEETINGBAAS_OUTAGE_PROBE_SECONDS, claimed by one conditional UPDATE whichever process makes it.
The probe's answer closes it and marks the catch-up due (calendars/outage/catch_up.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import DateTimeField, F, Value
from django.db.models.functions import Coalesce
from django.utils import dateformat, timezone

from calendars.lib.remote_values import fit
from calendars.meetingbaas.errors import Unavailable, Unreachable
from calendars.models import ServiceOutage

logger = logging.getLogger(__name__)
SERVICE = "meetingbaas"
# A process trusts "all is well" this long before reading the row again, so a busy worker
# reads it about once a second rather than before every call; a failure reads it at once.
TRUST_CLOSED = timedelta(seconds=1)


@dataclass(frozen=True)
class Outage:
    since: datetime
    last_error: str
    probes: int
    next_probe_at: datetime | None

    @property
    def headline(self) -> str:
        return f"Meeting BaaS unreachable since {since_words(self.since)}"


def since_words(moment: datetime, now: datetime | None = None) -> str:
    """`moment` in TIME_ZONE with its zone: the time alone today ("10:02 CET"), else dated."""
    local = timezone.localtime(moment)
    today = timezone.localtime(now or timezone.now()).date()
    return dateformat.format(local, "H:i T" if local.date() == today else "Y-m-d H:i T")


def _rows():
    return ServiceOutage.objects.filter(service=SERVICE)


def current() -> Outage | None:
    """The outage under way, if any."""
    row = _rows().filter(unreachable_since__isnull=False).first()
    if row is None:
        return None
    return Outage(row.unreachable_since, row.last_error, row.probes, row.next_probe_at)


def claim_catch_up() -> bool:
    """True for the one caller that takes the catch-up after an outage (one UPDATE decides)."""
    return bool(_rows().filter(catch_up_due=True).update(catch_up_due=False))


class DatabaseBreaker:
    """The transport's guard (calendars.meetingbaas.transport.CallGuard)."""

    def __init__(self) -> None:
        self._closed_seen_at: datetime | None = None

    def _trusts_closed(self, now: datetime) -> bool:
        seen = self._closed_seen_at
        return seen is not None and seen <= now < seen + TRUST_CLOSED

    def before_call(self) -> None:
        now = timezone.now()
        if self._trusts_closed(now):
            return
        row = _rows().values("failures", "unreachable_since", "next_probe_at").first()
        if row is None or row["unreachable_since"] is None:
            self._closed_seen_at = now if row is None or not row["failures"] else None
            return
        self._closed_seen_at = None
        since = since_words(row["unreachable_since"], now)
        if row["next_probe_at"] is not None and row["next_probe_at"] > now:
            raise Unreachable(since)
        probe_every = timedelta(seconds=settings.MEETINGBAAS_OUTAGE_PROBE_SECONDS)
        claimed = (
            _rows()
            .filter(unreachable_since__isnull=False, next_probe_at__lte=now)
            .update(next_probe_at=now + probe_every, probes=F("probes") + 1)
        )
        if not claimed:
            raise Unreachable(since)  # another process is probing
        logger.info("meetingbaas probe: unreachable since %s", since)

    def answered(self) -> None:
        now = timezone.now()
        if self._trusts_closed(now):
            return
        recovered = (
            _rows()
            .filter(unreachable_since__isnull=False)
            .update(
                last_outage_since=F("unreachable_since"),
                unreachable_since=None,
                next_probe_at=None,
                recovered_at=now,
                catch_up_due=True,
                failures=0,
                failing_since=None,
            )
        )
        if recovered:
            logger.warning("Meeting BaaS answers again: the catch-up is due")
        else:
            _rows().filter(failures__gt=0).update(failures=0, failing_since=None)
        self._closed_seen_at = now

    def failed(self, exc: Unavailable) -> None:
        now = timezone.now()
        self._closed_seen_at = None
        ServiceOutage.objects.get_or_create(service=SERVICE)
        _rows().update(
            failures=F("failures") + 1,
            failing_since=Coalesce(F("failing_since"), Value(now, output_field=DateTimeField())),
            last_error=fit(ServiceOutage, "last_error", str(exc)),
        )
        probe_every = timedelta(seconds=settings.MEETINGBAAS_OUTAGE_PROBE_SECONDS)
        opened = (
            _rows()
            .filter(
                unreachable_since__isnull=True,
                failures__gte=settings.MEETINGBAAS_OUTAGE_FAILURES,
            )
            .update(
                unreachable_since=F("failing_since"),
                next_probe_at=now + probe_every,
                probes=0,
                catch_up_due=False,
            )
        )
        if opened:
            # Said once per outage, not once per call that it makes fail.
            logger.error("Meeting BaaS unreachable: calls wait for a probe (%s)", exc)
