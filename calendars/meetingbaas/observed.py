"""Every request the transport sends, announced as it ends: what /metrics counts and times.

Mounted under the transport's session (below its retries, its rate limiter and its error
mapping), so each attempt is seen once, a timeout or a dropped connection included, and the
wire code needs no change to be measured. Nothing here touches the database: listeners
(calendars/metrics) do.
"""

from __future__ import annotations

import re
import time
from typing import Any

import requests
from django.dispatch import Signal
from requests.adapters import HTTPAdapter

# Sent with operation, outcome and seconds (float) for each request, answered or not.
request_ended = Signal()

# Ids in a path (UUIDs, numbers, long tokens with digits) would make a series per connection or
# event; the API's own words ("v2", "list-raw", "resync_all") stay.
_ID_SEGMENT = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F-]{27}|\d+|(?=.*\d).{12,}")


def operation(method: str, path: str) -> str:
    """The request's kind, without the ids in its path: `GET /v2/calendars/{id}/events`."""
    segments = path.split("?", 1)[0].split("/")
    return f"{method} " + "/".join("{id}" if _ID_SEGMENT.fullmatch(s) else s for s in segments)


def outcome_of(status: int) -> str:
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "server_error"
    return "client_error" if status >= 400 else "ok"


class ObservedAdapter(HTTPAdapter):
    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        started = time.monotonic()
        outcome = "connection_error"
        try:
            response = super().send(request, **kwargs)
            if not kwargs.get("stream"):
                response.content  # noqa: B018 (read here, so the time includes the body)
            outcome = outcome_of(response.status_code)
            return response
        except requests.exceptions.Timeout:
            outcome = "timeout"
            raise
        finally:
            request_ended.send(
                sender=ObservedAdapter,
                operation=operation(request.method or "", request.path_url),
                outcome=outcome,
                seconds=time.monotonic() - started,
            )
