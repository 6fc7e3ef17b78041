"""How a bulk job words its outcome: never "done" for what was not fixed."""

from __future__ import annotations

import pytest

from calendars.actions.bulk import Progress


def progress(kind: str = "resync", **counts: object) -> Progress:
    return Progress(
        kind=kind,
        **{"total": 0, "done": 0, "not_fixed": 0, "failed": 0, "pending": 0, **counts},
    )


@pytest.mark.parametrize(
    ("fields", "summary"),
    [
        (
            {"total": 4, "done": 2, "not_fixed": 2, "left_in": (("error", 2),)},
            "2 fixed, 2 still in error: see below.",
        ),
        (
            {"total": 2, "not_fixed": 2, "left_in": (("error", 1), ("syncing", 1))},
            "0 fixed, 1 still in error, 1 still syncing: see below.",
        ),
        (
            {"total": 3, "done": 1, "failed": 1, "not_fixed": 1, "left_in": (("disconnected", 1),)},
            "1 fixed, 1 disconnected, 1 failed: see below.",
        ),
        ({"total": 3, "done": 1, "pending": 2}, "Running: 1 fixed, 2 to go."),
        ({"total": 3, "done": 3}, "All 3 fixed."),
        ({"total": 1, "done": 1}, "1 fixed."),
        ({"kind": "disconnect", "total": 2, "done": 2}, "All 2 disconnected."),
        # A policy's item is about its meetings' bots, whatever its integration's status.
        (
            {"kind": "apply_policy", "total": 3, "done": 2, "not_fixed": 1},
            "2 done, 1 not done: see below.",
        ),
        ({"kind": "apply_policy", "total": 2, "done": 2}, "All 2 done."),
        ({}, "Nothing to do."),
    ],
)
def test_the_summary_says_what_was_fixed_and_what_was_not(fields, summary):
    assert progress(**fields).summary == summary


def test_a_job_that_fixed_nothing_is_finished_but_not_all_fixed():
    result = progress(total=2, not_fixed=2, left_in=(("error", 2),))

    assert result.finished and result.percent == 100
    assert not result.all_fixed
