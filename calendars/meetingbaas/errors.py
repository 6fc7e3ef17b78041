"""The one error hierarchy for Meeting BaaS calls.

Each error carries the HTTP status, the API's `code` and its message, and says whether
trying again later could succeed, so callers can tell a person what to do next.
"""

from __future__ import annotations


class MeetingBaasError(Exception):
    """A Meeting BaaS call failed; `str()` is a sentence fit to show a person."""

    transient = False
    summary = "Meeting BaaS refused the request"

    def __init__(
        self,
        message: str = "",
        *,
        http_status: int | None = None,
        code: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.message = message
        self.http_status = http_status
        self.code = code
        self.retry_after = retry_after
        super().__init__(self.describe())

    def describe(self) -> str:
        detail = f": {self.message}" if self.message else ""
        status = f" (HTTP {self.http_status})" if self.http_status else ""
        return f"{self.summary}{status}{detail}"


class ApiKeyRejected(MeetingBaasError):
    summary = "Meeting BaaS rejected the portal's API key; check MEETINGBAAS_API_KEY"


class OAuthRefused(MeetingBaasError):
    summary = "The calendar provider refused the OAuth credentials (refresh token or client secret)"


class PermissionDenied(MeetingBaasError):
    summary = "The calendar provider denied access (for Microsoft, often a missing licence)"


class NotFound(MeetingBaasError):
    summary = "Meeting BaaS does not know this calendar connection (deleted remotely?)"


class EventNotFound(NotFound):
    summary = "Meeting BaaS does not know this event (or no bot is scheduled on it)"


class Conflict(MeetingBaasError):
    summary = "Meeting BaaS already has a connection for this calendar"


class BotConflict(Conflict):
    summary = (
        "Meeting BaaS refused to change the bot: one is already scheduled, "
        "or it has joined or is about to"
    )


class NotSupported(MeetingBaasError):
    summary = "The configured Meeting BaaS API version cannot do this"


class InvalidRequest(MeetingBaasError):
    summary = "Meeting BaaS rejected the request as invalid"


class RateLimited(MeetingBaasError):
    transient = True
    summary = "Meeting BaaS is rate limiting us"

    def describe(self) -> str:
        wait = f", retry in {self.retry_after:g} s" if self.retry_after else ", retry later"
        detail = f": {self.message}" if self.message else ""
        return f"{self.summary}{wait}{detail}"


class PlanLimitReached(MeetingBaasError):
    """A 429 for the plan's cap (calendar connections, bots a day), not the request rate:
    waiting seconds will not help, so it is not retried."""

    summary = "Meeting BaaS refused: the team's plan limit is reached"


class ConnectionLimitReached(PlanLimitReached):
    summary = (
        "Meeting BaaS refused a new calendar connection: the team holds as many as its plan "
        "allows. Trying again will not help: disconnect integrations no one needs (that deletes "
        "their connections at Meeting BaaS), or move to a larger plan and set "
        "MEETINGBAAS_MAX_CALENDARS"
    )


class Unavailable(MeetingBaasError):
    """A server error, a timeout or a dropped connection: nothing says the call did not happen."""

    transient = True
    summary = "Meeting BaaS is unavailable or did not answer in time"


class Unreachable(Unavailable):
    """Not sent: Meeting BaaS has been failing for a while, and calls wait for it to answer a
    probe again (the message says since when)."""

    summary = "Meeting BaaS unreachable"

    def describe(self) -> str:
        since = f" since {self.message}" if self.message else ""
        return f"{self.summary}{since}: not sent"


class BadResponse(MeetingBaasError):
    transient = True
    summary = "Meeting BaaS sent an answer the portal cannot read"


def about_events(exc: MeetingBaasError) -> MeetingBaasError:
    """`exc` as it reads for a call on events and bots: a 404 is the event's unless it names
    the calendar, a 409 is the bot's."""
    if isinstance(exc, NotFound) and "CALENDAR_NOT_FOUND" not in exc.code.upper():
        kind: type[MeetingBaasError] = EventNotFound
    elif isinstance(exc, Conflict):
        kind = BotConflict
    else:
        return exc
    return kind(exc.message, http_status=exc.http_status, code=exc.code)
