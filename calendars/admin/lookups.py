"""Which query-string lookups a list accepts: the parameters its own filters use, nothing else.

Django's admin takes any lookup on a model's own fields from the query string, so
`credential/?refresh_token__regex=^gAAAAAB[A-M]` read a stored ciphertext character by
character, and a nested `__regex` on SQLite held a worker for seconds. `guard` holds every
registered admin, the libraries' included, to its list filters and date hierarchy: a lookup
outside them is Django's own "not allowed" (a 400 answer).
"""

from __future__ import annotations

from types import MethodType

from django.contrib import admin
from django.contrib.admin import SimpleListFilter
from django.http import HttpRequest

# The parameters Django's field filters read for the field path they filter: choices, booleans
# and values (exact, isnull), relations (id__exact), dates (gte, lt).
FIELD_FILTER_SUFFIXES = ("__exact", "__isnull", "__id__exact", "__gte", "__lt")
DATE_HIERARCHY_SUFFIXES = ("__year", "__month", "__day")
DATE_PART_RANGES = {"year": (1000, 9998), "month": (1, 12), "day": (1, 31)}


def offered_lookups(model_admin: admin.ModelAdmin, request: HttpRequest) -> set[str]:
    offered = set()
    for item in model_admin.get_list_filter(request):
        if isinstance(item, type) and issubclass(item, SimpleListFilter):
            offered.add(item.parameter_name)
            # A filter that reads a second parameter names it (the Meetings' customer name).
            offered.update(getattr(item, "extra_parameters", ()))
        else:
            path = item[0] if isinstance(item, list | tuple) else item
            offered.update(path + suffix for suffix in FIELD_FILTER_SUFFIXES)
    if model_admin.date_hierarchy:
        offered.update(model_admin.date_hierarchy + s for s in DATE_HIERARCHY_SUFFIXES)
    return offered


def _offered_lookup_allowed(
    model_admin: admin.ModelAdmin, lookup: str, value: str, request: HttpRequest
) -> bool:
    if lookup not in offered_lookups(model_admin, request):
        return False
    if lookup.endswith(DATE_HIERARCHY_SUFFIXES) and not _plausible_date_part(lookup, value):
        return False
    return type(model_admin).lookup_allowed(model_admin, lookup, value, request)


def _plausible_date_part(lookup: str, value: str) -> bool:
    # Django turns ?started_at__year=1 into 0001-01-01 in TIME_ZONE, which east of UTC lies
    # before the first instant a datetime can hold: an OverflowError, a 500.
    low, high = DATE_PART_RANGES[lookup.rpartition("__")[2]]
    return value.isascii() and value.isdigit() and len(value) <= 4 and low <= int(value) <= high


def guard(site: admin.AdminSite) -> None:
    """Hold every admin registered on `site` to the lookups its filters offer."""
    for model_admin in site._registry.values():
        model_admin.lookup_allowed = MethodType(_offered_lookup_allowed, model_admin)
