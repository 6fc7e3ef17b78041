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
        # Every `migrate` (re)creates the schedules and brings the role groups in line with
        # calendars/roles.py, so no deployment has to do either by hand.
        post_migrate.connect(_after_migrate, sender=self)
