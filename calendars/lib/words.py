"""Counts and names in sentences: "1 calendar", "3 calendars", "Northwind Traders' calendar"."""

from __future__ import annotations


def counted(count: int, noun: str, plural: str = "") -> str:
    """`count` and its noun, singular for one: never "3 calendar(s)"."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def possessive(name: object) -> str:
    """A name with its possessive ending: "Acme Corp's", "Northwind Traders'"."""
    text = str(name)
    return f"{text}'" if text.endswith(("s", "S")) else f"{text}'s"
