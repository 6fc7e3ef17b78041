from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_schedules(sender: AppConfig, **kwargs: object) -> None:
    from calendars.tasks import ensure_schedules

    ensure_schedules()


class CalendarsConfig(AppConfig):
    name = "calendars"
    verbose_name = "Calendar integrations"

    def ready(self) -> None:
        # Every `migrate` (re)creates the refresh schedule, so no deployment has to do it by hand.
        post_migrate.connect(_ensure_schedules, sender=self)
