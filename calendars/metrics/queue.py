"""django-q2's queue as /metrics shows it: how many tasks wait and how long the oldest has, in
all and per group (the portal's kinds of work: webhooks, refresh, meetings, bots, bulk, and each
schedule's name), on either broker.

A task's group is inside its signed payload, so reading every waiting task's would cost as much
as the queue is long. The total comes from the broker's own count (COUNT on the database broker,
LLEN on Redis); the groups from the HEAD oldest tasks only: exact while no more wait, and past
that they name what is at the front of the queue, the work that is late.
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.signing import SignedPackage

HEAD = 200


@dataclass(frozen=True)
class QueueState:
    waiting: int
    oldest_seconds: float | None = None
    # Per group, among the HEAD oldest waiting tasks: how many, and the oldest one's age.
    group_tasks: Counter[str] = field(default_factory=Counter)
    group_oldest_seconds: dict[str, float] = field(default_factory=dict)


def read(now: datetime) -> QueueState:
    """The queue now; raises whatever the broker raises when it cannot be reached."""
    if Conf.ORM:
        waiting_now = OrmQ.objects.using(Conf.ORM).filter(key=Conf.CLUSTER_NAME, lock__lte=now)
        waiting = waiting_now.count()
        # In id order: the order tasks were queued in, read off the primary key's index.
        head = list(waiting_now.order_by("id").values_list("payload", flat=True)[:HEAD])
    else:
        broker = get_broker()
        waiting = broker.queue_size()
        head = broker.connection.lrange(broker.list_key, 0, HEAD - 1)  # rpush'd, blpop'd
    return _summed(waiting, [_enqueued(payload) for payload in head], now)


@functools.lru_cache(maxsize=4 * HEAD)  # a payload is read (its signature checked) once
def _enqueued(payload: str | bytes) -> tuple[str, datetime | None]:
    """A waiting task's group and when it was queued."""
    if isinstance(payload, bytes):
        payload = payload.decode()
    try:
        task = SignedPackage.loads(payload)
    except Exception:  # not the portal's (task_guard refuses it when taken): counted anyway
        return "unreadable", None
    return str(task.get("group") or "none"), task.get("started")


def _summed(waiting: int, tasks: list[tuple[str, datetime | None]], now: datetime) -> QueueState:
    group_tasks: Counter[str] = Counter()
    oldest: dict[str, float] = {}
    for group, queued_at in tasks:
        group_tasks[group] += 1
        if queued_at is not None:
            age = max(0.0, (now - queued_at).total_seconds())
            oldest[group] = max(age, oldest.get(group, 0.0))
    return QueueState(
        waiting=waiting,
        oldest_seconds=max(oldest.values(), default=None),
        group_tasks=group_tasks,
        group_oldest_seconds=oldest,
    )
