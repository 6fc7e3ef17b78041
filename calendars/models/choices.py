"""The choices of a model field, from one of the portal's enums."""

from __future__ import annotations


def choices_of(enum_type: type) -> list[tuple[str, str]]:
    return [(member.value, member.value.capitalize()) for member in enum_type]
