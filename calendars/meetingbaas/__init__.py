"""The Meeting BaaS client: the only code in the portal that knows the wire.

`client()` builds the configured version's client; both versions offer the same methods
(list_raw_calendars, create_connection, get_connection, list_connections,
update_credentials, delete_connection, resync, find_connection; for meetings list_events,
iter_events, list_series, get_event, schedule_bot, update_bot, remove_bot; list_bots) and
return the plain values in `types`. What a version cannot do raises `errors.NotSupported`.
Nothing here touches the database.
"""

from __future__ import annotations

from functools import cache

from django.conf import settings

from calendars.meetingbaas.transport import CallGuard, Transport, TransportConfig
from calendars.meetingbaas.types import ApiVersion
from calendars.meetingbaas.v1 import V1Client
from calendars.meetingbaas.v2 import V2Client

Client = V1Client | V2Client
# Set by the app once Django is ready (calendars/outage/ keeps it in the database, which this
# package never touches); None: every call is sent.
_guard: CallGuard | None = None


def use_guard(guard: CallGuard | None) -> None:
    """Have every client built from now on ask `guard` before each call."""
    global _guard
    _guard = guard


def client(api_version: str | None = None) -> Client:
    """The client for `api_version` (default: MEETINGBAAS_API_VERSION) on the shared session."""
    version = ApiVersion(api_version or settings.MEETINGBAAS_API_VERSION)
    transport = _transport(
        TransportConfig(
            base_url=settings.MEETINGBAAS_BASE_URL,
            api_key=settings.MEETINGBAAS_API_KEY,
            connect_timeout=settings.MEETINGBAAS_CONNECT_TIMEOUT,
            read_timeout=settings.MEETINGBAAS_TIMEOUT,
            max_retries=settings.MEETINGBAAS_MAX_RETRIES,
            max_wait=settings.MEETINGBAAS_MAX_RETRY_WAIT,
            backoff=settings.MEETINGBAAS_RETRY_BACKOFF,
            write_rate=settings.MEETINGBAAS_WRITE_RATE,
        ),
        _guard,
    )
    return V2Client(transport) if version == ApiVersion.V2 else V1Client(transport)


@cache
def _transport(config: TransportConfig, guard: CallGuard | None) -> Transport:
    # One session (and its connection pool) per configuration, reused by every call.
    return Transport(config, guard=guard)
