"""A task that loses the database is run again on a new connection, within its time."""

from __future__ import annotations

import pytest
from django.db import OperationalError

from calendars.lib import database


class Flaky:
    """Fails with a lost connection `failures` times, then answers."""

    __name__ = "flaky"

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self, value: int) -> int:
        self.calls += 1
        if self.calls <= self.failures:
            raise OperationalError("terminating connection due to administrator command")
        return value * 2


@pytest.fixture(autouse=True)
def no_pauses(monkeypatch):
    monkeypatch.setattr(database.time, "sleep", lambda seconds: None)


def test_it_runs_the_task_again_after_a_lost_connection(settings):
    settings.DATABASE_RETRY_SECONDS = 30
    task = Flaky(failures=2)

    assert database.reconnecting(task)(21) == 42
    assert task.calls == 3


def test_it_gives_up_after_database_retry_seconds(settings):
    settings.DATABASE_RETRY_SECONDS = 0
    task = Flaky(failures=1)

    with pytest.raises(OperationalError):
        database.reconnecting(task)(1)
    assert task.calls == 1


def test_it_tries_for_at_most_half_of_q_timeout(settings):
    settings.DATABASE_RETRY_SECONDS = 600
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": 120}

    assert database.retry_seconds() == 60


@pytest.mark.django_db
def test_it_never_retries_inside_the_callers_transaction(settings):
    settings.DATABASE_RETRY_SECONDS = 30
    task = Flaky(failures=1)

    with pytest.raises(OperationalError):
        database.reconnecting(task)(1)  # the test's own transaction is open around it
    assert task.calls == 1
