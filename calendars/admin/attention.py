"""The needs-attention worklist as a filter of the integrations list, where the bulk fixes are.

The dashboard's "see all" and each of its groups of integrations ("Refresh token refused or
revoked: 14 integrations, 3 customers") link here, so a whole group is one action away from its
fix. A fix made on each credential (a new refresh token) is also a button per credential on the
group itself, and the groups of failed token checks link to the credentials list instead.
"""

from __future__ import annotations

from django.contrib import admin
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.functional import cached_property

from calendars.admin import big_lists
from calendars.queries import dashboard

PARAMETER = dashboard.PARAMETER


class AttentionPaginator(Paginator):
    """Counts a needs-attention list up to COUNTED_UP_TO rows ("more than" past it: the
    planner's guess at rows matching any of the kinds' conditions is no count to show)."""

    @cached_property
    def count(self) -> int:
        return big_lists.counted_up_to(self.object_list, big_lists.COUNTED_UP_TO)


class ProblemFilter(admin.SimpleListFilter):
    title = "needs attention"
    parameter_name = PARAMETER

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [
            (dashboard.ANY_PROBLEM, "Any problem"),
            *((cause.code, cause.title) for cause in dashboard.CAUSES),
            *((code, label.capitalize()) for code, label in dashboard.KIND_LABELS.items()),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        code = self.value()
        if code is None:
            return queryset
        return queryset.filter(dashboard.problem_condition(code))
