"""Only the portal's own tasks (calendars.queue.TASKS) run on the workers.

django-q2 runs whatever importable function a schedule or a queued task names, with the
workers' access to the database, the encryption keys and Meeting BaaS: a schedule naming
`subprocess.run` would run it. Three checks, connected in CalendarsConfig.ready():

- a Schedule naming another function is refused when it is saved;
- a task naming one is replaced, when it is queued (by the web, a command, or the cluster's
  scheduler reading a schedule row written without `save()`), by the `refused` task,
  which fails with the reason, so the refusal shows in the failed-task list and the
  scheduler goes on with the other schedules;
- a worker refuses, before calling it, a task that reached the broker without being queued
  through django-q2 (a payload signed elsewhere with SECRET_KEY).

Result hooks are refused too: django-q2 calls a hook with the saved task, and the portal uses
none.
"""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django_q.brokers import get_broker
from django_q.models import Schedule
from django_q.utils import get_func_repr

from calendars.queue import TASKS, TaskNotAllowed

logger = logging.getLogger(__name__)

# As django-q2 writes a function's name (its dotted path): a task queued with the function
# object and one queued with its path are the same task.
ALLOWED_TASK_NAMES = frozenset(TASKS.values())


def refusal(func: object, hook: object = None) -> str | None:
    """Why a task running `func` (with result hook `hook`) may not run; None when it may."""
    name = get_func_repr(func)
    if name not in ALLOWED_TASK_NAMES:
        return f"{name!r} is not one of the portal's tasks (calendars.queue.TASKS)"
    if hook:
        return f"it has a result hook ({get_func_repr(hook)!r}); the portal's tasks use none"
    return None


def refuse_schedule(sender: type[Schedule], instance: Schedule, **kwargs: object) -> None:
    """pre_save of Schedule: schedules are created by code, and only for the portal's tasks."""
    reason = refusal(instance.func, instance.hook)
    if reason is None:
        return
    stored = Schedule.objects.filter(pk=instance.pk).values_list("func", "hook").first()
    if stored == (instance.func, instance.hook):
        # A row written without save() (raw SQL, .update()), being saved by the scheduler with
        # its next run: refusing would stop every due schedule with it. Its task is refused
        # when queued, at every run, in the failed-task list.
        return
    raise ValidationError(f"Schedule {instance.name or instance.func!r} refused: {reason}")


def replace_refused_task(sender: object, task: dict, **kwargs: object) -> None:
    """pre_enqueue: queue `refused` in place of a task that may not run.

    Raising here would not do: the scheduler queues every due schedule in one transaction,
    so one refused schedule would stop all the others.
    """
    reason = refusal(task["func"], task.get("hook"))
    if reason is None:
        return
    logger.error("refused task %s: %s", task.get("name"), reason)
    task["func"] = TASKS["refused"]
    task["args"] = (reason,)
    task["kwargs"] = {}
    task.pop("hook", None)


def refuse_before_running(sender: object, func: object, task: dict, **kwargs: object) -> None:
    """pre_execute, in the worker: the last check before the function is called.

    Only a payload that skipped pre_enqueue gets here. django-q2 gives the signal no way to
    fail the task, so this raises: the worker process ends without calling the function and
    the cluster starts another. The task is acknowledged first, so the broker does not hand
    it to the next worker.
    """
    if func is None:
        return  # nothing importable by that name: django-q2 fails the task itself
    reason = refusal(func, task.get("hook"))
    if reason is None:
        return
    logger.critical("refused task %s in the worker: %s", task.get("name"), reason)
    if task.get("ack_id"):
        get_broker().acknowledge(task["ack_id"])
    raise TaskNotAllowed(reason)
