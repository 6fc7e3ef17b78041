"""What no log line carries: a consent link's token (the segment after /connect/) and the values
of OAuth's parameters (code, state and the tokens a provider hands back).

Whoever reads the logs could otherwise open a live link and grant access in the customer's
name, or replay a callback. `RedactingFilter` sits on the portal's log handler (so on Django's
"Not Found" warnings and the development server's lines too); gunicorn's access log goes
through `redact` in portal/gunicorn.py.
"""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"
# /connect/<token>/… but not the callback or "Try again", whose paths hold no secret.
CONSENT_TOKEN = re.compile(r"(/connect/)(?!(?:callback|retry)(?:[/?#\s\"']|$))[^/?#\s\"']+")
OAUTH_PARAMETER = re.compile(
    r"(?i)\b(code|state|session_state|id_token|access_token|refresh_token|code_verifier)"
    r"(=|%3D)[^&\s\"'#]*"
)


def redact(text: str) -> str:
    text = CONSENT_TOKEN.sub(rf"\g<1>{REDACTED}", text)
    return OAUTH_PARAMETER.sub(rf"\g<1>\g<2>{REDACTED}", text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True
