"""Which table cells may break inside a word: those holding a token too long for a column."""

from __future__ import annotations

from django import template

register = template.Library()

# Longer than this, an unbroken token (an address, a calendar id) could widen its table past
# the window at 1440 px beside the other columns; shorter ones are never cut.
LONG_TOKEN = 40


@register.filter
def has_long_token(text: object) -> bool:
    """Whether `text` holds a run of more than LONG_TOKEN characters without a space."""
    return any(len(token) > LONG_TOKEN for token in str(text or "").split())
