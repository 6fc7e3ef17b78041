"""Which cells may break inside a word: only those holding a token too long for a column."""

from __future__ import annotations

import pytest

from calendars.templatetags.wrapping import LONG_TOKEN, has_long_token


@pytest.mark.parametrize(
    ("text", "long"),
    [
        ("webhook", False),
        ("alice@example.com", False),
        ("the connection could not be refreshed", False),
        ("x" * LONG_TOKEN, False),
        ("see " + "x" * (LONG_TOKEN + 1), True),
        (None, False),
    ],
)
def test_only_a_token_longer_than_a_column_holds_counts(text: str | None, long: bool) -> None:
    assert has_long_token(text) is long
