"""Migration operations that stay safe on large tables."""

from __future__ import annotations

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.operations import AddField, AddIndex, RemoveIndex


class AddIndexSafely(AddIndexConcurrently):
    """CREATE INDEX CONCURRENTLY on PostgreSQL, so a 100k-row table is not locked while it
    builds; a plain index elsewhere. The migration using it must set `atomic = False`."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
        else:
            AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
        else:
            AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)


class RemoveIndexSafely(RemoveIndexConcurrently):
    """DROP INDEX CONCURRENTLY on PostgreSQL, so that writes to a large table never wait for
    it; a plain DROP INDEX elsewhere. The migration using it must set `atomic = False`."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
        else:
            RemoveIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
        else:
            RemoveIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)


class AddColumnInPlace(AddField):
    """ALTER TABLE … ADD COLUMN on every engine, for a field that is nullable or has a constant
    `db_default`. SQLite's schema editor remakes the whole table to add a NOT NULL column, and
    a remade calendars_meeting loses the triggers of its title search (migration 0022); the
    plain statement adds the column in place, in a moment, on a table of any size."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor != "sqlite":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
            return
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            BaseDatabaseSchemaEditor.add_field(
                schema_editor, model, model._meta.get_field(self.name)
            )
