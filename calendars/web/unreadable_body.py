"""A request whose body stops arriving is the client's fault: a 400, not a 500.

gunicorn gives up on a read after WEB_READ_TIMEOUT seconds (portal/gunicorn.py); Django then
raises UnreadablePostError in the view that reads the body (the webhook receiver, a form), which
it would answer with a 500 page and an error report.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.http.request import UnreadablePostError

logger = logging.getLogger(__name__)


class UnreadableBodyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, UnreadablePostError):
            return None
        logger.info("%s %s: the request's body did not arrive", request.method, request.path)
        return HttpResponseBadRequest(
            "The request's body did not arrive in time.", content_type="text/plain"
        )
