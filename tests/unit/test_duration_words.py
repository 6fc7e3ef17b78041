"""How long something has been broken, as a person says it: never "0 minutes"."""

from __future__ import annotations

from datetime import timedelta

import pytest

from calendars.lib.durations import duration_words


@pytest.mark.parametrize(
    ("length", "words"),
    [
        (timedelta(0), "under a minute"),
        (timedelta(seconds=59), "under a minute"),
        (timedelta(seconds=-30), "under a minute"),
        (timedelta(minutes=1), "1 min"),
        (timedelta(minutes=59, seconds=59), "59 min"),
        (timedelta(hours=1), "1 h"),
        (timedelta(hours=2, minutes=14, seconds=30), "2 h 14 min"),
        (timedelta(hours=23, minutes=59), "23 h 59 min"),
        (timedelta(days=1), "1 day"),
        (timedelta(days=1, hours=5, minutes=40), "1 day 5 h"),
        (timedelta(days=2), "2 days"),
        (timedelta(days=3, hours=23), "3 days"),
        (timedelta(days=400), "400 days"),
    ],
)
def test_it_reads_as_a_person_would_say_it(length: timedelta, words: str) -> None:
    assert duration_words(length) == words


def test_it_never_says_zero_of_anything() -> None:
    for seconds in range(0, 3 * 86400, 37):
        words = duration_words(timedelta(seconds=seconds))
        assert not words.startswith("0 ") and " 0 " not in words, words
