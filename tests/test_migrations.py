"""Migrations stay safe on large tables: new indexes build concurrently on PostgreSQL."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection


@pytest.mark.django_db(transaction=True)
def test_the_changelist_index_builds_concurrently_on_postgresql():
    out = io.StringIO()
    call_command("sqlmigrate", "calendars", "0009_integration_newest_first_index", stdout=out)

    sql = out.getvalue()
    assert "integration_newest_first" in sql
    if connection.vendor == "postgresql":
        assert "CREATE INDEX CONCURRENTLY" in sql
    else:
        assert "CONCURRENTLY" not in sql
