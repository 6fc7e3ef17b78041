"""While the database is unreachable, people get a plain 503 page, never a 500.

A request can meet the outage anywhere: reading the session in a middleware, the user, the
view's queries. The view's errors come to `DatabaseOutageMiddleware.process_exception` (with
DEBUG on too); a middleware's come to the 500 handler, `server_error`. Both answer with a page
rendered without a request context, since the context processors (the user, the messages)
would query the database that is gone.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.template import loader
from django.views import defaults

from calendars.lib.database import DATABASE_ERRORS

logger = logging.getLogger(__name__)
TEMPLATE = "database_unavailable.html"
RETRY_AFTER_SECONDS = 60


def database_unavailable() -> HttpResponse:
    response = HttpResponse(loader.render_to_string(TEMPLATE), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseOutageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DATABASE_ERRORS):
            return None
        logger.error("database unavailable: %s", type(exception).__name__)
        return database_unavailable()


def server_error(request: HttpRequest, template_name: str = "500.html") -> HttpResponse:
    """handler500: the outage page when the error was the database's, else Django's own."""
    if isinstance(sys.exc_info()[1], DATABASE_ERRORS):
        return database_unavailable()
    return defaults.server_error(request, template_name)
