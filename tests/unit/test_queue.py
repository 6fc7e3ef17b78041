"""The task registry (calendars/queue.py): every name a worker may run resolves to its task."""

from __future__ import annotations

import pydoc

from calendars import queue
from calendars.task_guard import ALLOWED_TASK_NAMES


def test_every_task_is_importable_by_the_name_django_q2_stores():
    for name in queue.TASKS.values():
        func = pydoc.locate(name)
        assert callable(func) and f"{func.__module__}.{func.__name__}" == name
        assert name in ALLOWED_TASK_NAMES


def test_every_schedule_names_a_registered_task(settings):
    settings.STATUS_REFRESH_MINUTES = 7
    periodic = queue.periodic_tasks()
    assert {p.task for p in periodic} <= set(queue.TASKS)
    assert len({p.name for p in periodic}) == len(periodic)
    assert next(p for p in periodic if p.name == queue.REFRESH_ALL_SCHEDULE).minutes == 7
