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

from calendars.queries import dashboard

PARAMETER = "problem"
# A list filtered by a problem is counted up to this many rows: past it, "more than 10,000".
# Every integration may be on the worklist at once (the refresh down for an hour leaves each
# one unconfirmed), and counting a million rows on every page view would stop the list; its
# first page is read in the list's own order and needs no count.
COUNTED_AT_MOST = 10_000


class MoreThan(int):
    """A lower bound of a count: a number for the paginator's arithmetic (the pages up to it),
    and "more than N" wherever an admin template prints it."""

    def __str__(self) -> str:
        return f"more than {int(self):,}"


class AttentionPaginator(Paginator):
    """Counts a needs-attention list up to COUNTED_AT_MOST rows."""

    @cached_property
    def count(self) -> int:
        counted = self.object_list.order_by()[: COUNTED_AT_MOST + 1].count()
        return MoreThan(COUNTED_AT_MOST) if counted > COUNTED_AT_MOST else counted


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
