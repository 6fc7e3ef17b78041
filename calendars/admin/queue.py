"""django-q2's lists (successful, failed and queued tasks, schedules), read-only for everyone.

django-q2's own admins offer "Resubmit selected tasks to queue" to anyone who can view a task
list, with no permission check and no record, and let a superuser edit schedules and queued
tasks. Here nobody, superusers included, changes anything: schedules are created by code
(calendars.queue.ensure_schedules) and every piece of work has its own permission-checked,
recorded way to run again (a bulk job's "Run what is left again", "Refresh status", the
schedules themselves). Only the Admin role is given these lists (calendars/roles.py).
"""

from __future__ import annotations

from django.contrib import admin
from django_q import admin as django_q_admin
from django_q.models import Failure, OrmQ, Schedule, Success

from calendars.admin.common import ReadOnlyAdmin


class SuccessAdmin(ReadOnlyAdmin, django_q_admin.TaskAdmin):
    actions = ()  # no "resubmit": ReadOnlyAdmin only takes away add, change and delete


class FailureAdmin(ReadOnlyAdmin, django_q_admin.FailAdmin):
    actions = ()


class ScheduleAdmin(ReadOnlyAdmin, django_q_admin.ScheduleAdmin):
    pass


class QueuedTaskAdmin(ReadOnlyAdmin, django_q_admin.QueueAdmin):
    pass


def _replace(model: type, model_admin: type[admin.ModelAdmin]) -> None:
    admin.site.unregister(model)
    admin.site.register(model, model_admin)


# Importing django_q.admin above registered its admins; these take their place.
_replace(Success, SuccessAdmin)
_replace(Failure, FailureAdmin)
_replace(Schedule, ScheduleAdmin)
if admin.site.is_registered(OrmQ):  # django-q2 lists the queue only on the ORM broker
    _replace(OrmQ, QueuedTaskAdmin)
