"""The totals processes count for /metrics reach the database: added to, never replaced, kept
in memory while the database cannot take them, and written by each process's own thread."""

from __future__ import annotations

import pytest
from django.db import OperationalError

from calendars.metrics import totals
from calendars.models import MetricTotal
from tests.support.waiting import wait_until


@pytest.fixture(autouse=True)
def _nothing_pending() -> None:
    totals._pending.clear()


def stored() -> dict[tuple[str, str], float]:
    # (Not the consent links' totals the migration made.)
    rows = MetricTotal.objects.filter(name__startswith="portal_")
    return {(t.name, t.labels): t.value for t in rows}


def test_each_write_adds_to_the_stored_totals(db):
    totals.add("portal_x_total", {"outcome": "ok"})
    totals.add("portal_x_total", {"outcome": "ok"}, 2)
    totals.flush()
    totals.add("portal_x_total", {"outcome": "ok"})
    totals.observe("portal_y_seconds", {"op": "a"}, 0.3, (0.1, 0.5))
    totals.observe("portal_y_seconds", {"op": "a"}, 7.0, (0.1, 0.5))
    totals.flush()

    assert stored() == {
        ("portal_x_total", '{"outcome":"ok"}'): 4,
        ("portal_y_seconds_bucket", '{"le":"0.5","op":"a"}'): 1,
        ("portal_y_seconds_bucket", '{"le":"+Inf","op":"a"}'): 1,
        ("portal_y_seconds_sum", '{"op":"a"}'): 7.3,
        ("portal_y_seconds_count", '{"op":"a"}'): 2,
    }


def test_counts_wait_in_memory_while_the_database_refuses_them(db, monkeypatch):
    totals.add("portal_x_total", {})

    def refused(rows):
        raise OperationalError("the database is unavailable")

    with monkeypatch.context() as patched:
        patched.setattr(totals, "_write", refused)
        with pytest.raises(OperationalError):
            totals.flush()
    totals.add("portal_x_total", {})
    totals.flush()

    assert stored() == {("portal_x_total", "{}"): 2}


@pytest.mark.django_db(transaction=True)
def test_each_process_writes_its_counts_by_itself(settings):
    settings.METRICS_FLUSH_SECONDS = 0.05
    try:
        totals.add("portal_x_total", {"outcome": "ok"}, 3)
        assert wait_until(lambda: stored() == {("portal_x_total", '{"outcome":"ok"}'): 3}, 5)
    finally:
        settings.METRICS_FLUSH_SECONDS = 0
        # The thread sees the flusher switched off, and ends.
        assert wait_until(lambda: totals._flusher is None, 5)
