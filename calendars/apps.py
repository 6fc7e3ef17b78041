from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_migrate, pre_save


def _after_migrate(sender: AppConfig, **kwargs: object) -> None:
    from calendars.queue import ensure_schedules
    from calendars.roles import sync_roles

    ensure_schedules()
    sync_roles()


class CalendarsConfig(AppConfig):
    name = "calendars"
    verbose_name = "Calendar integrations"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in
        from django_q.models import Schedule
        from django_q.signals import pre_enqueue, pre_execute

        from calendars import (
            checks,  # noqa: F401 (registers the production settings' checks)
            meetingbaas,
            task_guard,
        )
        from calendars.lib.request_ids import adopt_task_id, stamp_task
        from calendars.lib.sessions import restart_on_sign_in
        from calendars.metrics import observers
        from calendars.outage.breaker import DatabaseBreaker

        pre_enqueue.connect(stamp_task, dispatch_uid="calendars.stamp_task")
        pre_execute.connect(adopt_task_id, dispatch_uid="calendars.adopt_task_id")

        # Only the portal's own tasks run on the workers (see calendars/task_guard.py).
        pre_save.connect(
            task_guard.refuse_schedule, sender=Schedule, dispatch_uid="calendars.refuse_schedule"
        )
        pre_enqueue.connect(
            task_guard.replace_refused_task, dispatch_uid="calendars.replace_refused_task"
        )
        pre_execute.connect(
            task_guard.refuse_before_running, dispatch_uid="calendars.refuse_before_running"
        )

        # Every process asks the shared breaker before calling Meeting BaaS (calendars/outage/).
        if settings.MEETINGBAAS_OUTAGE_FAILURES > 0:
            meetingbaas.use_guard(DatabaseBreaker())

        user_logged_in.connect(restart_on_sign_in, dispatch_uid="calendars.restart_on_sign_in")

        # What processes count for /metrics (calendars/metrics/observers.py).
        observers.connect()

        # Every `migrate` (re)creates the schedules and brings the role groups in line with
        # calendars/roles.py, so no deployment has to do either by hand.
        post_migrate.connect(_after_migrate, sender=self)
