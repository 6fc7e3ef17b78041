"""Field validators shared by models and forms."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


# What a username may hold: no letter that only looks like an ASCII one ("admin" spelt with a
# Cyrillic "a", U+0430, reads as the superuser in every record that names its actions).
USERNAME = re.compile(r"[A-Za-z0-9.@_-]+")


def validate_username(value: str) -> None:
    if not USERNAME.fullmatch(value or ""):
        raise ValidationError(
            "Use only ASCII letters, digits and . - _ @ in a username.", code="username"
        )


def allowed_callback(url: str) -> bool:
    """Whether a bot may send its recordings to `url`: HTTPS, on a host BOT_CALLBACK_HOSTS names."""
    parts = urlsplit(url or "")
    host = (parts.hostname or "").lower()
    return parts.scheme == "https" and host in settings.BOT_CALLBACK_HOSTS


def reject_control_characters(value: str) -> None:
    """Names, ids and addresses are one line of printable text."""
    if CONTROL_CHARACTERS.search(value or ""):
        raise ValidationError(
            "Control characters (line breaks, tabs...) are not allowed.", code="control"
        )


# The largest value of a 64-bit signed key: past it the database refuses the number (SQLite
# with an OverflowError).
LARGEST_ID = 2**63 - 1


def as_id(value: str | None) -> int | None:
    """A row id typed into a URL or a form, or None: ASCII digits only (`isdigit()` also takes
    "²" and other digits int() refuses) and within a key's range."""
    if not value or not (value.isascii() and value.isdigit()) or len(value) > 19:
        return None
    number = int(value)
    return number if 0 < number <= LARGEST_ID else None
