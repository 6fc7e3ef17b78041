"""Counts and names as a sentence needs them: no "(s)", no "Traders's"."""

from __future__ import annotations

import pytest

from calendars.lib.words import counted, possessive


@pytest.mark.parametrize(
    ("count", "words"), [(0, "0 calendars"), (1, "1 calendar"), (3, "3 calendars")]
)
def test_a_count_takes_the_plural_unless_it_is_one(count: int, words: str) -> None:
    assert counted(count, "calendar") == words


def test_an_irregular_plural_is_given() -> None:
    assert counted(2, "delivery", "deliveries") == "2 deliveries"


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("Acme Corp", "Acme Corp's"),
        ("Northwind Traders", "Northwind Traders'"),
        ("ACME LABS", "ACME LABS'"),
    ],
)
def test_a_name_ending_in_s_takes_only_the_apostrophe(name: str, words: str) -> None:
    assert possessive(name) == words
