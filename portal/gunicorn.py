"""gunicorn's settings for the portal (`gunicorn -c python:portal.gunicorn portal.wsgi`).

Threaded workers, each read of a request bounded in time: a few clients trickling their
headers or a webhook's body once held every sync worker, and /healthz with them.

gunicorn's own lines and its access log go through the portal's log handler (settings.LOGGING:
JSON in production, each access line with its response's request id), and the access log's
request line, path, query and referrer through the portal's redaction: a consent link's path is
its secret, and a callback's query holds the OAuth code and state.
"""

from __future__ import annotations

import logging
import logging.config
import os
import socket

from gunicorn.glogging import Logger
from gunicorn.workers.gthread import ThreadWorker

from calendars.lib.log_redaction import redact

# The web hosts are reached only through the proxies (README, Running in production): by
# default a proxy on this host; WEB_BIND names the private address a proxy elsewhere reaches.
bind = f"{os.environ.get('WEB_BIND', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
threads = int(os.environ.get("WEB_THREADS", "32"))
worker_class = "portal.gunicorn.ReadTimeoutThreadWorker"
# Longest wait for the next bytes of a request's line, headers or body.
READ_TIMEOUT = float(os.environ.get("WEB_READ_TIMEOUT", "10"))
# Headers: at most 100 of at most 8 kB, a request line of at most 4 kB (gunicorn's defaults,
# stated): with READ_TIMEOUT, a bound on how long headers can take.
limit_request_fields = 100
limit_request_field_size = 8190
limit_request_line = 4094
accesslog = "-"


class ReadTimeoutSocket(socket.socket):
    """A connection whose blocking reads give up after READ_TIMEOUT seconds."""

    __slots__ = ()

    def setblocking(self, flag: bool) -> None:
        # gunicorn makes each connection blocking before it reads a request from it.
        if flag:
            self.settimeout(READ_TIMEOUT)
        else:
            super().setblocking(False)

    def recv(self, *args: int) -> bytes:
        try:
            return super().recv(*args)
        except TimeoutError:
            # Done with this client: the answer is still written, but gunicorn's reading the
            # rest of the body before the next request ends at once instead of waiting again.
            self.shutdown(socket.SHUT_RD)
            raise


class ReadTimeoutThreadWorker(ThreadWorker):
    def handle(self, conn: object) -> object:
        if type(conn.sock) is socket.socket:
            conn.sock.__class__ = ReadTimeoutSocket
        return super().handle(conn)


def post_worker_init(worker: object) -> None:
    """The URLs and the views they import loaded as the worker starts, before it accepts: its
    first request then answers as fast as the others (a /healthz probe included)."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 (loads the URLconf)


# The request line, path, query and referrer are the parts of a line that can hold a token.
REDACTED_ATOMS = ("r", "U", "q", "f", "{raw_uri}e")


class RedactingLogger(Logger):
    def setup(self, cfg: object) -> None:
        super().setup(cfg)
        # gunicorn's plain-text handlers off: its lines go up to the root logger, which the
        # portal's LOGGING gives its handler here, in the master, before any worker loads Django.
        for log in (self.error_log, self.access_log):
            for handler in [h for h in log.handlers if getattr(h, "_gunicorn", False)]:
                log.removeHandler(handler)
            log.propagate = True
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
        from django.conf import settings

        logging.config.dictConfig(settings.LOGGING)
        logging.captureWarnings(True)  # a warning is a log line too, not bare text on stderr

    def access(self, resp: object, req: object, environ: dict, request_time: object) -> None:
        if not self.access_log_enabled:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        # Written after the response, outside the request: its id is the one the response sent.
        request_id = atoms.get("{x-request-id}o") or "-"
        self.access_log.info(
            self.cfg.access_log_format,
            self.atoms_wrapper_class(atoms),
            extra={"request_id": request_id},
        )

    def atoms(self, resp: object, req: object, environ: dict, request_time: object) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        for key in REDACTED_ATOMS:
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        return atoms


logger_class = RedactingLogger
