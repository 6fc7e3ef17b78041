"""A request id on every log line, carried from a web request into the tasks it queues."""

from __future__ import annotations

import contextvars
import logging
import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

HEADER = "X-Request-ID"
SAFE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
current: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class RequestIdMiddleware:
    """Takes a well-formed X-Request-ID from the proxy, or makes one, and answers with it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get(HEADER, "")
        request_id = given if SAFE.match(given) else uuid.uuid4().hex
        request.request_id = request_id  # for the lines written after the request (django.request)
        token = current.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            current.reset(token)
        response[HEADER] = request_id
        return response


class RequestIdFilter(logging.Filter):
    """Stamps a line with its request's id: the one it was given (gunicorn's access log), its
    request's (Django's request logger writes after RequestIdMiddleware has returned), or the
    current one."""

    def filter(self, record: logging.LogRecord) -> bool:
        given = getattr(record, "request_id", None)
        of_request = getattr(getattr(record, "request", None), "request_id", None)
        record.request_id = given or of_request or current.get()
        return True


# django-q2 signal handlers, connected in CalendarsConfig.ready() (this module is loaded by
# the logging configuration, before django-q2's models can be imported).
def stamp_task(sender: object, task: dict, **kwargs: object) -> None:
    task["request_id"] = current.get()


def adopt_task_id(sender: object, task: dict, **kwargs: object) -> None:
    # The worker process runs one task at a time, so the id simply follows the task.
    current.set(task.get("request_id") or f"task-{task.get('id', '')}")
