from django.db import migrations, models

from calendars.lib.migration_operations import AddIndexSafely

# A search by part of a meeting's title. PostgreSQL: a trigram GIN index on the expression
# Django's icontains compares, as 0020 made for names and e-mails. SQLite: an FTS5 table with
# the trigram tokenizer (SQLite 3.34 or later), whose phrase queries match any part of a title
# of 3 characters or more; it holds no copy of the titles (content= reads them from the
# meetings) and triggers keep it current. A later migration that remakes calendars_meeting
# on SQLite (Django does so to alter most of its columns) drops these triggers with the old
# table and must create them again: tests/integration/test_meeting_search.py would fail.
TITLE_INDEX = "meeting_title_trgm"
TITLE_TABLE = "meeting_title_trigram"
SQLITE_TRIGGERS = {
    f"{TITLE_TABLE}_insert": f"""
        AFTER INSERT ON calendars_meeting BEGIN
            INSERT INTO {TITLE_TABLE}(rowid, title) VALUES (new.id, new.title);
        END""",
    f"{TITLE_TABLE}_delete": f"""
        AFTER DELETE ON calendars_meeting BEGIN
            INSERT INTO {TITLE_TABLE}({TITLE_TABLE}, rowid, title)
            VALUES ('delete', old.id, old.title);
        END""",
    f"{TITLE_TABLE}_update": f"""
        AFTER UPDATE OF title ON calendars_meeting BEGIN
            INSERT INTO {TITLE_TABLE}({TITLE_TABLE}, rowid, title)
            VALUES ('delete', old.id, old.title);
            INSERT INTO {TITLE_TABLE}(rowid, title) VALUES (new.id, new.title);
        END""",
}


def create_title_index(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {TITLE_INDEX} ON calendars_meeting "
            "USING gin ((UPPER(title::text)) gin_trgm_ops)"
        )
    elif vendor == "sqlite":
        schema_editor.execute(
            f"CREATE VIRTUAL TABLE {TITLE_TABLE} USING fts5(title, "
            "content='calendars_meeting', content_rowid='id', tokenize='trigram')"
        )
        for name, body in SQLITE_TRIGGERS.items():
            schema_editor.execute(f"CREATE TRIGGER {name} {body}")
        # The meetings already held.
        schema_editor.execute(f"INSERT INTO {TITLE_TABLE}({TITLE_TABLE}) VALUES ('rebuild')")


def drop_title_index(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {TITLE_INDEX}")
    elif vendor == "sqlite":
        for name in SQLITE_TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")
        schema_editor.execute(f"DROP TABLE IF EXISTS {TITLE_TABLE}")


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [("calendars", "0021_stored_problems_and_indexes")]

    operations = [
        migrations.RunPython(create_title_index, drop_title_index),
        AddIndexSafely(
            model_name="meeting",
            index=models.Index(fields=["remote_event_id"], name="meeting_remote_event"),
        ),
    ]
