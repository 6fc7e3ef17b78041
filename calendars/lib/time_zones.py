"""Times written in the viewer's own time zone once the browser has said which it is.

Every page of the admin runs calendars/static/calendars/time_zone.js, which keeps the
browser's IANA zone in a cookie; this middleware makes that zone the current one for the
request, so the admin's formats (DATETIME_FORMAT, TIME_FORMAT, each naming its zone) write
times as the viewer's clock reads them. Without the cookie (the first page, a client without
JavaScript, a name this machine does not know) times stay in TIME_ZONE, named as well.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from functools import cache

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

COOKIE = "portal_time_zone"
# The longest IANA names are about 30 characters: anything longer is not one.
LONGEST_NAME = 64


@cache
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def viewer_zone(request: HttpRequest) -> zoneinfo.ZoneInfo | None:
    """The zone the viewer's browser named, if it is one this machine knows."""
    name = request.COOKIES.get(COOKIE, "")
    if not name or len(name) > LONGEST_NAME or name not in _known_zones():
        return None
    return zoneinfo.ZoneInfo(name)


class ViewerTimeZoneMiddleware:
    """Makes the viewer's zone the current time zone for the request, when it is known."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = viewer_zone(request)
        if zone is None:
            return self.get_response(request)
        timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
