"""Only calendars.queue.TASKS run on the workers: on save, when queued, and in the worker."""

from __future__ import annotations

import contextvars
import uuid
from datetime import timedelta
from multiprocessing import Value

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_q.brokers.orm import ORM
from django_q.conf import Conf
from django_q.models import Failure, OrmQ, Schedule, Success
from django_q.monitor import monitor
from django_q.queues import Queue
from django_q.scheduler import scheduler
from django_q.signing import SignedPackage
from django_q.tasks import async_task, schedule
from django_q.worker import worker

from calendars import queue, tasks
from calendars.models import Heartbeat
from calendars.task_guard import ALLOWED_TASK_NAMES

CALLS: list[str] = []


def record_call(*args: object, **kwargs: object) -> None:
    """Importable and harmless, but not a portal task: if it ever runs, a test fails."""
    CALLS.append("ran")


OUTSIDER = f"{__name__}.record_call"


@pytest.fixture(autouse=True)
def no_calls() -> None:
    CALLS.clear()


def run_through_worker(tasks_in: list[dict], broker: ORM) -> None:
    """Hand tasks to django-q2's worker and monitor in this process, as a cluster would."""
    task_queue, result_queue = Queue(), Queue()
    for task in tasks_in:
        task_queue.put(task)
    task_queue.put("STOP")
    try:
        # In a context of its own: the worker adopts each task's request id, which must not
        # leak into the tests that run after this one in the same process.
        contextvars.copy_context().run(worker, task_queue, result_queue, Value("f", -1))
        result_queue.put("STOP")
        monitor(result_queue, broker)
    finally:
        for queue in (task_queue, result_queue):
            queue.close()
            queue.join_thread()


def dequeued(broker: ORM) -> list[dict]:
    """Everything queued, taken as a cluster's pusher takes it (a few at a time)."""
    taken = []
    while batch := broker.dequeue():
        taken += [{**SignedPackage.loads(package), "ack_id": ack_id} for ack_id, package in batch]
    return taken


def test_every_schedule_the_portal_creates_is_allowed(db):
    queue.ensure_schedules()

    assert set(Schedule.objects.values_list("func", flat=True)) <= ALLOWED_TASK_NAMES


@pytest.mark.parametrize("func", ["platform.node", "subprocess.run", OUTSIDER])
def test_a_schedule_naming_another_function_is_refused_on_save(db, func):
    with pytest.raises(ValidationError, match="not one of the portal's tasks"):
        schedule(func, name="outsider", schedule_type=Schedule.MINUTES, minutes=1)
    existing = Schedule.objects.get(func="calendars.tasks.heartbeat")
    existing.func = func
    with pytest.raises(ValidationError):
        existing.save()

    assert not Schedule.objects.filter(func=func).exists()


def test_a_schedule_with_a_result_hook_is_refused_on_save(db):
    existing = Schedule.objects.get(func="calendars.tasks.heartbeat")
    existing.hook = OUTSIDER

    with pytest.raises(ValidationError, match="result hook"):
        existing.save()


def test_tasks_queued_by_function_or_by_path_still_run(db):
    async_task(tasks.heartbeat)
    async_task("calendars.tasks.heartbeat")

    assert Heartbeat.objects.count() == 1
    assert Success.objects.filter(func="calendars.tasks.heartbeat").count() == 2


@pytest.mark.parametrize("func", [record_call, OUTSIDER])
def test_a_task_naming_another_function_is_refused_when_queued(db, func):
    with pytest.raises(tasks.TaskNotAllowed, match="not one of the portal's tasks"):
        async_task(func, "argument")  # sync mode in tests: the refusal is raised here

    assert CALLS == []


def test_a_task_with_a_result_hook_is_refused_when_queued(db):
    with pytest.raises(tasks.TaskNotAllowed, match="result hook"):
        async_task(tasks.heartbeat, hook=OUTSIDER)

    assert not Heartbeat.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_scheduler_refuses_a_schedule_written_without_save(monkeypatch):
    broker = ORM(list_key=Conf.PREFIX)
    due = timezone.now() - timedelta(minutes=1)
    Schedule.objects.exclude(func="calendars.tasks.heartbeat").delete()
    Schedule.objects.update(next_run=due)
    outsider = Schedule.objects.create(
        name="outsider",
        func="calendars.tasks.heartbeat",
        schedule_type=Schedule.MINUTES,
        minutes=1,
        next_run=due,
    )
    Schedule.objects.filter(pk=outsider.pk).update(func=OUTSIDER)  # no save(), no pre_save

    with monkeypatch.context() as queueing:
        queueing.setattr(Conf, "SYNC", False)  # queue onto the ORM broker, as a cluster does
        scheduler(broker=broker)
    run_through_worker(dequeued(broker), broker)

    assert CALLS == []
    failure = Failure.objects.get()
    assert failure.func == "calendars.tasks.refused" and OUTSIDER in failure.result
    assert Heartbeat.objects.exists()  # the other schedule ran all the same
    assert not OrmQ.objects.exists()  # both acknowledged


@pytest.mark.django_db(transaction=True)
def test_the_worker_refuses_a_task_that_skipped_the_queue_check():
    broker = ORM(list_key=Conf.PREFIX)
    forged = {
        "id": uuid.uuid4().hex,
        "name": "forged",
        "func": OUTSIDER,
        "args": (),
        "kwargs": {},
        "started": timezone.now(),
    }
    # Straight into the broker, signed as with SECRET_KEY, never through async_task.
    broker.enqueue(SignedPackage.dumps(forged))

    with pytest.raises(tasks.TaskNotAllowed, match="not one of the portal's tasks"):
        run_through_worker(dequeued(broker), broker)

    assert CALLS == []
    assert not OrmQ.objects.exists()  # acknowledged: no other worker is handed it
