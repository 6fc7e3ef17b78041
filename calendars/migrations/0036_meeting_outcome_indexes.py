import importlib

from django.db import migrations, models

from calendars.lib.migration_operations import AddIndexSafely

search = importlib.import_module("calendars.migrations.0022_meeting_search_indexes")


def restore_title_search(apps, schema_editor):
    """0035 added NOT NULL columns, which SQLite's schema editor does by remaking
    calendars_meeting: the title search's triggers went with the old table (see 0022)."""
    if schema_editor.connection.vendor != "sqlite":
        return
    for name, body in search.SQLITE_TRIGGERS.items():
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")
        schema_editor.execute(f"CREATE TRIGGER {name} {body}")
    # The table's name is 0022's constant, no input.
    schema_editor.execute(f"INSERT INTO {search.TITLE_TABLE}({search.TITLE_TABLE}) VALUES ('rebuild')")  # noqa: S608, E501


class Migration(migrations.Migration):
    # Not atomic, so that the indexes build concurrently on PostgreSQL (the meetings table
    # keeps MEETINGS_HISTORY_DAYS of meetings).
    atomic = False

    dependencies = [
        ("calendars", "0035_meeting_outcomes"),
    ]

    operations = [
        migrations.RunPython(restore_title_search, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="meeting",
            name="outcome_cause",
            field=models.CharField(
                blank=True,
                choices=[
                    ("policy", "The customer's bot policy does not record it"),
                    ("no_url", "No meeting URL"),
                    ("calendar_broken", "The calendar was broken at the time"),
                    ("removed", "A person removed the bot"),
                    ("cancelled", "Cancelled"),
                    ("refused", "Meeting BaaS refused the bot"),
                    ("not_asked", "No bot was asked for in time"),
                    ("bot_error", "The bot failed in the meeting"),
                ],
                max_length=24,
                verbose_name="cause",
            ),
        ),
        AddIndexSafely(
            model_name="meeting",
            index=models.Index(fields=["outcome", "starts_at"], name="meeting_outcome_starts"),
        ),
        AddIndexSafely(
            model_name="statuschange",
            index=models.Index(fields=["integration", "changed_at"], name="status_change_at_time"),
        ),
    ]
