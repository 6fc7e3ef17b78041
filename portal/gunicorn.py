"""gunicorn's settings for the portal (`gunicorn -c python:portal.gunicorn portal.wsgi`).

The access log writes each request's line through the portal's redaction: a consent link's
path is its secret, and a callback's query holds the OAuth code and state.
"""

from __future__ import annotations

import os

from gunicorn.glogging import Logger

from calendars.lib.log_redaction import redact

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
accesslog = "-"
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
