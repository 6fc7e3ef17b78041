"""Field validators shared by models and forms."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


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
