"""gunicorn's settings for the portal (`gunicorn -c python:portal.gunicorn portal.wsgi`).

Threaded workers, each read of a request bounded in time: a few clients trickling their
headers or a webhook's body once held every sync worker, and /healthz with them. The access log
writes each request's line through the portal's redaction: a consent link's path is its secret,
and a callback's query holds the OAuth code and state.
"""

from __future__ import annotations

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


# The request line, path, query and referrer are the parts of a line that can hold a token.
REDACTED_ATOMS = ("r", "U", "q", "f", "{raw_uri}e")


class RedactingLogger(Logger):
    def atoms(self, resp: object, req: object, environ: dict, request_time: object) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        for key in REDACTED_ATOMS:
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        return atoms


logger_class = RedactingLogger
