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
