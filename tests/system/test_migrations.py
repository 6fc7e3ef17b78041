"""Migrations stay safe on large tables: new indexes build concurrently on PostgreSQL."""

from __future__ import annotations

import io

import pytest
from django.contrib.postgres.operations import AddIndexConcurrently
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import (
    AddConstraint,
    AddField,
    AddIndex,
    AlterField,
    CreateModel,
)
from django.db.models import UniqueConstraint


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


def test_no_migration_builds_an_index_on_an_existing_table_while_locking_it():
    """An index (an Index, a unique constraint, an indexed field) on a table an earlier
    migration made must build concurrently; on a table the same migration creates there is
    nothing to lock."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    offenders = []
    for (app, name), migration in loader.disk_migrations.items():
        if app != "calendars":
            continue
        created = {op.name_lower for op in migration.operations if isinstance(op, CreateModel)}
        for op in migration.operations:
            locking = isinstance(op, AddIndex) and not isinstance(op, AddIndexConcurrently)
            unique = isinstance(op, AddConstraint) and isinstance(op.constraint, UniqueConstraint)
            # db_index / unique / a foreign key on a new or changed column builds an index too.
            indexed = isinstance(op, AddField | AlterField) and _indexes(op.field)
            if indexed and isinstance(op, AlterField):  # only if the column had no index before
                before = loader.project_state((app, name), at_end=False)
                indexed = not _indexes(before.models[app, op.model_name_lower].fields[op.name])
            if (locking or unique or indexed) and op.model_name_lower not in created:
                offenders.append(f"{name}: {op.describe()}")
        if any(isinstance(op, AddIndexConcurrently) for op in migration.operations):
            assert not migration.atomic, f"{name} builds an index concurrently: atomic = False"

    assert offenders == []


def _indexes(field) -> bool:
    return bool(field.db_index or field.unique)
