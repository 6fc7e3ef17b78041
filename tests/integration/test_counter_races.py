"""Two writers making the same counter row at once both count (two workers applying webhooks)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction

from calendars.models import IntegrationCount

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]


def test_two_moves_into_a_status_nobody_counted_yet_both_count():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer at a time: the race is PostgreSQL's")
    IntegrationCount.objects.filter(status="error", provider="google", api_version="v2").delete()
    first_made_its_row = threading.Event()
    errors = []

    def first() -> None:
        try:
            with transaction.atomic():
                IntegrationCount.shift("google", "v2", to_status="error")
                first_made_its_row.set()
                # The second writer finds no committed row, and its insert waits for this one.
                threading.Event().wait(0.5)
        except Exception as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            first_made_its_row.set()
            connections.close_all()

    def second() -> None:
        try:
            first_made_its_row.wait(5)
            with transaction.atomic():
                IntegrationCount.shift("google", "v2", to_status="error")
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert errors == []
    assert (
        IntegrationCount.objects.get(status="error", provider="google", api_version="v2").count == 2
    )
