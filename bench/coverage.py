"""Benchmark of the coverage report (issue 30): "a customer's month" and "the whole month for
all customers", on a database that already holds the meetings (bench/meetings.py's).

    .venv/bin/python bench/run.py --steps coverage      # after the meetings step, same database
    .venv/bin/python -m bench.history --steps coverage  # on the 90 days of past meetings

`fill` counts the report's days from the meetings with the portal's own pass
(calendars/meetings/coverage.py: one grouped query per day, its rows written in one
transaction), timed per day; `measure` times the two pages through Django's test client:
median, p95 and the most queries a request made.
"""

from __future__ import annotations

import time
from datetime import date, timedelta

from django.utils import timezone

REPORT = "/admin/calendars/meeting/coverage/"


def fill() -> dict:
    """Count every day of the meetings kept, up to today, as the periodic pass would."""
    from calendars.meetings import coverage

    now = timezone.now()
    first = coverage.first_countable_day(now)
    days = [first + timedelta(days=n) for n in range((timezone.localdate(now) - first).days + 1)]
    started = time.perf_counter()
    counted = coverage.count_days(days, now)
    seconds = time.perf_counter() - started
    return {
        "days": counted,
        "seconds": round(seconds, 1),
        "ms_per_day": round(seconds * 1000 / max(counted, 1), 1),
    }


def busiest_customer(first: date, last: date) -> int | None:
    """The customer with the most meetings in a day of the range (else the first customer)."""
    from calendars.models import CoverageDay, Customer

    rows = CoverageDay.objects.filter(customer__isnull=False, day__gte=first, day__lte=last)
    busiest = rows.order_by("-meetings").values_list("customer_id", flat=True).first()
    return busiest or Customer.objects.order_by("pk").values_list("pk", flat=True).first()


def measure_pages(repeat: int) -> dict:
    """The report for the last full month: one customer's, and every customer's."""
    from bench import measure
    from calendars.queries.coverage import last_full_month

    month = last_full_month()
    customer = busiest_customer(month.first, month.last)
    urls = {"every customer's month": REPORT}
    if customer is not None:
        urls["a customer's month"] = f"{REPORT}?customer={customer}"
    return measure.timed_pages(measure.bench_client(), urls, repeat)


def child(repeat: int) -> dict:
    return {"fill": fill(), "pages": measure_pages(repeat)}


def render(result: dict) -> str:
    fill_ = result["fill"]
    lines = [
        "",
        "## Coverage report",
        "",
        f"Counted {fill_['days']} days from the meetings in {fill_['seconds']} s "
        f"({fill_['ms_per_day']} ms a day, the cost of each day in the 5-minute pass).",
        "",
        "| Page | median ms | p95 ms | queries |",
        "|---|---:|---:|---:|",
    ]
    for name, page in result["pages"].items():
        lines.append(f"| {name} | {page['median_ms']} | {page['p95_ms']} | {page['queries']} |")
    return "\n".join(lines) + "\n"
