from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _after_migrate(sender: AppConfig, **kwargs: object) -> None:
    from calendars.roles import sync_roles
    from calendars.tasks import ensure_schedules

    ensure_schedules()
    sync_roles()


class CalendarsConfig(AppConfig):
    name = "calendars"
    verbose_name = "Calendar integrations"

    def ready(self) -> None:
        from django_q.signals import pre_enqueue, pre_execute

        from calendars.request_ids import adopt_task_id, stamp_task

        pre_enqueue.connect(stamp_task, dispatch_uid="calendars.stamp_task")
        pre_execute.connect(adopt_task_id, dispatch_uid="calendars.adopt_task_id")

        # Every `migrate` (re)creates the schedules and brings the role groups in line with
        # calendars/roles.py, so no deployment has to do either by hand.
        post_migrate.connect(_after_migrate, sender=self)
