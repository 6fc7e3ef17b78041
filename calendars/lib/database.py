"""Losing the database connection in a task: reconnect and run the task again.

A PostgreSQL restart, a failover or an administrator's `pg_terminate_backend` ends every
connection the workers hold; the task then in hand fails with OperationalError or
InterfaceError. django-q2 acknowledges failed tasks (`ack_failures`), so without this the
work would wait for a sweep (bulk jobs, webhook deliveries) or the next periodic run. Every
portal task is safe to run again (calendars/tasks.py), so the task is run again on a new
connection, with a growing pause, for up to DATABASE_RETRY_SECONDS (at most half of
Q_TIMEOUT).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.db import InterfaceError, OperationalError, connections

logger = logging.getLogger(__name__)

# What Django raises when the server is gone or the connection was cut.
DATABASE_ERRORS = (OperationalError, InterfaceError)
FIRST_PAUSE = 0.5
LONGEST_PAUSE = 5.0


def reconnecting[**P, R](task: Callable[P, R]) -> Callable[P, R]:
    """Run `task` again on a new connection when the database connection is lost."""

    @functools.wraps(task)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        give_up_at = time.monotonic() + retry_seconds()
        pause = FIRST_PAUSE
        while True:
            try:
                return task(*args, **kwargs)
            except DATABASE_ERRORS as exc:
                if _in_callers_transaction() or time.monotonic() + pause > give_up_at:
                    raise
                logger.warning(
                    "%s lost the database (%s: %s): again in %.1f s",
                    task.__name__,
                    type(exc).__name__,
                    str(exc).strip()[:200],
                    pause,
                )
            _drop_connections()
            time.sleep(pause)
            pause = min(pause * 2, LONGEST_PAUSE)

    return run


def retry_seconds() -> float:
    """DATABASE_RETRY_SECONDS, within half of Q_TIMEOUT: the task must still finish in time."""
    return min(settings.DATABASE_RETRY_SECONDS, settings.Q_CLUSTER["timeout"] / 2)


def _in_callers_transaction() -> bool:
    # Run inline inside someone's transaction (tests, a shell): closing it would lose their work.
    return any(connections[alias].in_atomic_block for alias in connections)


def _drop_connections() -> None:
    for alias in connections:
        # Already broken: Django forgets it all the same.
        with contextlib.suppress(*DATABASE_ERRORS):
            connections[alias].close()
