"""django-q2's `qcluster`, stopping the same way whether its main process or its whole process
group is sent SIGTERM.

systemd (its default KillMode), honcho and `kill -TERM -- -PGID` signal every process of the
cluster at once. django-q2's sentinel, pusher, monitor and workers take SIGTERM's default
action and die, a running task half done, while the main process, asked to stop, waits forever
for the dead sentinel to wake (a hang with a zombie child). Here only the main process acts on
SIGTERM: the others ignore it and stop when the main process tells them to, each worker after
its running task (bounded by Q_TIMEOUT), as when the main process alone is signalled.
"""

from __future__ import annotations

import signal

from django_q import cluster
from django_q.management.commands.qcluster import Command as DjangoQCommand


class MainStopsSentinel(cluster.Sentinel):
    """django-q2's sentinel, it and every process it starts deaf to a SIGTERM of the group."""

    def start(self) -> None:
        # Set after django-q2's own signal set-up (SIGTERM's default) and before the pool is
        # forked, which inherits it.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        super().start()

    def spawn_worker(self) -> None:
        super().spawn_worker()
        # django-q2 ends a worker past its timeout with terminate() (SIGTERM), ignored now.
        worker = self.pool[-1]
        worker.terminate = worker.kill


class Command(DjangoQCommand):
    def handle(self, *args: object, **options: object) -> None:
        # django-q2's Cluster starts `cluster.Sentinel` by that name; this process starts one.
        cluster.Sentinel = MainStopsSentinel
        super().handle(*args, **options)
