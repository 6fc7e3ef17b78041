"""calendars/lib/union.py: several ordered and sliced reads in one query, each giving what its
own values_list would."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from calendars.lib.union import read_each
from calendars.models import Customer


def test_each_part_keeps_its_order_and_limit_and_its_types_in_one_query(db):
    now = timezone.now()
    for n in range(4):
        Customer.objects.create(name=f"Customer {n}", external_ref=f"c{n}")
    Customer.objects.update(created_at=now)
    Customer.objects.filter(name="Customer 2").update(created_at=now - timedelta(days=1))
    customers = Customer.objects.values_list("name", "created_at")
    parts = [
        customers.order_by("-name")[:2],
        customers.filter(name__in=[]),  # no SQL at all
        customers.order_by("created_at", "name")[:1],
    ]

    with CaptureQueriesContext(connection) as queries:
        newest, nothing, oldest = read_each(parts)

    assert len(queries) == 1
    assert newest == [("Customer 3", now), ("Customer 2", now - timedelta(days=1))]
    assert nothing == []
    assert oldest == [("Customer 2", now - timedelta(days=1))]
