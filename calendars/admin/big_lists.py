"""How the admin's lists of big tables count and page their rows: never by reading every row
of a table on a page view.

An unfiltered list of a big table is counted from PostgreSQL's estimate ("about N"). A
filtered, searched or needs-attention list is counted exactly up to a bound; past it, from
the plan PostgreSQL makes for it where it is a filter ("about N"), else "more than N". A
page of a longer list is read as ids first, then its rows.
"""

from __future__ import annotations

import json

from django.contrib.admin.views.main import ChangeList
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.functional import cached_property

# A table PostgreSQL estimates smaller than this is counted exactly: that costs little.
EXACT_COUNT_BELOW = 100_000
# A filtered list is counted up to this many rows. Every integration may be on the worklist
# at once (the refresh down for an hour leaves each one unconfirmed), a tenth of ten million
# status changes may be errors: counting them on every page view would stop the list, whose
# first page is read in its own order and needs no count.
COUNTED_UP_TO = 10_000
# A searched list is counted up to this many rows: a word many titles share ("planning" in
# the benchmark) matches a fifth of a million meetings.
SEARCH_COUNTED_UP_TO = 1000


class Estimate(int):
    """A row count PostgreSQL estimated: a number for the paginator's arithmetic, and "about
    N" wherever an admin template prints it (the list's foot, the search box, "Select all"),
    so that nobody takes it for exact. (Templates print it through str(): the portal does not
    group thousands.)"""

    def __str__(self) -> str:
        return f"about {int(self):,}"


class MoreThan(int):
    """A count that stopped at a bound: the bound plus one for the paginator's arithmetic (so
    each page it offers exists), and "more than N" wherever an admin template prints it."""

    def __str__(self) -> str:
        return f"more than {int(self) - 1:,}"


def counted_up_to(queryset: QuerySet, bound: int) -> int:
    # In no order: the first rows found, whichever they are, are counted.
    found = queryset.order_by()[: bound + 1].count()
    return MoreThan(found) if found > bound else found


class EstimatingPaginator(Paginator):
    """Counts an unfiltered list of a big table from PostgreSQL's estimate of its rows, a
    filtered one exactly up to COUNTED_UP_TO and past that from the plan of its query."""

    @cached_property
    def count(self) -> int:
        if not self.object_list.query.where:
            estimate = estimated_rows(self.object_list)
            if estimate is None or estimate < EXACT_COUNT_BELOW:
                return super().count
            return Estimate(estimate)
        counted = counted_up_to(self.object_list, COUNTED_UP_TO)
        if isinstance(counted, MoreThan):
            planned = planned_rows(self.object_list)
            if planned is not None and planned > COUNTED_UP_TO:
                return Estimate(planned)
        return counted


class SearchPaginator(Paginator):
    """Counts a searched list up to SEARCH_COUNTED_UP_TO rows, "more than" past it."""

    @cached_property
    def count(self) -> int:
        return counted_up_to(self.object_list, SEARCH_COUNTED_UP_TO)


def estimated_rows(queryset: QuerySet) -> int | None:
    """The planner's estimate of the rows of the table `queryset` reads whole (no WHERE): the
    row density of the last ANALYZE or VACUUM times the table's pages now, as the planner
    reckons it. None on another engine, for a filtered queryset, or a table never analysed."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql" or queryset.query.where or queryset.query.distinct:
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples / relpages * (pg_relation_size(oid) / "
            "current_setting('block_size')::int) FROM pg_class "
            "WHERE oid = %s::regclass AND relpages > 0 AND reltuples >= 0",
            [connection.ops.quote_name(queryset.model._meta.db_table)],
        )
        row = cursor.fetchone()
    return round(row[0]) if row else None


def planned_rows(queryset: QuerySet) -> int | None:
    """The rows PostgreSQL's plan for `queryset` expects (from the statistics of the columns
    it filters on); None on another engine."""
    if connections[queryset.db].vendor != "postgresql":
        return None
    plan = json.loads(queryset.order_by().explain(format="json"))
    return round(plan[0]["Plan"]["Plan Rows"])


class PageByIdsChangeList(ChangeList):
    """A page of a longer list is picked as ids, in the list's order, then its rows are loaded
    by id with what the list shows (`list_select_related`, and what the admin's queryset
    prefetches).

    Sorted by a joined table's column (a calendar's or a customer's name, an account's
    e-mail), SQLite reads and sorts every row of the list: sorting ids and that column rather
    than whole rows of four tables takes a third of the time. PostgreSQL reads such a page off
    an index where there is one, and pays one small query more.
    """

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        if not isinstance(self.result_list, QuerySet) or not self.result_list.query.is_sliced:
            return  # the whole list on one page: one query already
        ids = list(self.result_list.values_list("pk", flat=True))
        rows = self.apply_select_related(self.root_queryset.order_by()).in_bulk(ids)
        self.result_list = [rows[pk] for pk in ids if pk in rows]
