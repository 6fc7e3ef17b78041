"""Signed-in sessions end after SESSION_IDLE_MINUTES without a request, and SESSION_COOKIE_AGE
seconds after sign-in whatever happens.

Django's own expiry slides: every save of the session pushes it SESSION_COOKIE_AGE further, so
it bounds neither idleness nor a session's whole life. This middleware bounds both, from two
times kept in the session itself (epoch seconds).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest, HttpResponse

SIGNED_IN_AT = "portal_signed_in_at"
LAST_SEEN_AT = "portal_last_seen_at"
# Recording every request would write the session row on each one: the time is recorded once a
# minute, so an idle session ends up to a minute early, never late.
LAST_SEEN_PRECISION = 60

logger = logging.getLogger(__name__)


class SessionExpiryMiddleware:
    """Between SessionMiddleware and AuthenticationMiddleware: an expired session is emptied
    before anyone reads the user from it, so the request is served as signed out."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = request.session
        # Only signed-in sessions: touching an anonymous one would create a session row for
        # every webhook delivery and health check.
        if SESSION_KEY in session:
            now = int(time.time())
            reason = expiry_reason(session, now)
            if reason:
                logger.info("Signed out user %s: the session %s", session[SESSION_KEY], reason)
                session.flush()
            else:
                session.setdefault(SIGNED_IN_AT, now)
                if now - session.get(LAST_SEEN_AT, 0) >= LAST_SEEN_PRECISION:
                    session[LAST_SEEN_AT] = now
        return self.get_response(request)


def expiry_reason(session: SessionBase, now: int) -> str | None:
    """Why a signed-in session has expired at `now`, or None while it is still valid."""
    idle_limit = settings.SESSION_IDLE_MINUTES * 60
    if now - session.get(LAST_SEEN_AT, now) > idle_limit:
        return f"was idle for more than {settings.SESSION_IDLE_MINUTES} minutes"
    if now - session.get(SIGNED_IN_AT, now) > settings.SESSION_COOKIE_AGE:
        return f"is older than {settings.SESSION_COOKIE_AGE} seconds"
    return None


def restart_on_sign_in(sender: object, request: HttpRequest | None, **kwargs: object) -> None:
    """user_logged_in: a new sign-in starts the session's whole life again.

    Django keeps a session's data when the same user signs in again, so without this the
    absolute limit would still count from the first sign-in in that browser.
    """
    if request is not None and hasattr(request, "session"):
        now = int(time.time())
        request.session[SIGNED_IN_AT] = now
        request.session[LAST_SEEN_AT] = now
