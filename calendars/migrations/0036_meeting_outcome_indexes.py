import importlib

from django.db import migrations, models

from calendars.lib.migration_operations import AddIndexSafely

search = importlib.import_module("calendars.migrations.0022_meeting_search_indexes")


def restore_title_search(apps, schema_editor):
    """0035 added NOT NULL columns and this migration gives them database defaults, which
    SQLite's schema editor does by remaking calendars_meeting: the title search's triggers
    went with the old table (see 0022)."""
    if schema_editor.connection.vendor != "sqlite":
        return
    for name, body in search.SQLITE_TRIGGERS.items():
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")
        schema_editor.execute(f"CREATE TRIGGER {name} {body}")
    # The table's name is 0022's constant, no input.
    schema_editor.execute(
        f"INSERT INTO {search.TITLE_TABLE}({search.TITLE_TABLE}) VALUES ('rebuild')"
    )


class Migration(migrations.Migration):
    # Not atomic, so that the indexes build concurrently on PostgreSQL (the meetings table
    # keeps MEETINGS_HISTORY_DAYS of meetings).
    atomic = False

    dependencies = [
        ("calendars", "0035_meeting_outcomes"),
    ]

    operations = [
        # Empty in the database too: rows written outside the ORM need not name these columns.
        migrations.AlterField(
            model_name="meeting",
            name="bot_error_code",
            field=models.CharField(
                blank=True, db_default="", default="", max_length=64, verbose_name="bot error code"
            ),
        ),
        migrations.AlterField(
            model_name="meeting",
            name="bot_error_message",
            field=models.TextField(blank=True, db_default="", default="", verbose_name="bot error"),
        ),
        migrations.AlterField(
            model_name="meeting",
            name="bot_status",
            field=models.CharField(
                blank=True, db_default="", default="", max_length=64, verbose_name="bot status"
            ),
        ),
        migrations.AlterField(
            model_name="meeting",
            name="outcome",
            field=models.CharField(
                blank=True,
                choices=[
                    ("scheduled", "Scheduled"),
                    ("joining", "Joining"),
                    ("recording", "Recording"),
                    ("recorded", "Recorded"),
                    ("bot_failed", "Bot failed"),
                    ("no_bot", "No bot"),
                    ("no_news", "No news"),
                ],
                db_default="",
                default="",
                max_length=16,
            ),
        ),
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
                db_default="",
                default="",
                max_length=24,
                verbose_name="cause",
            ),
        ),
        migrations.AlterField(
            model_name="meeting",
            name="outcome_reason",
            field=models.CharField(
                blank=True, db_default="", default="", max_length=500, verbose_name="why"
            ),
        ),
        # After the table's remakes on SQLite (0035's and the ones above).
        migrations.RunPython(restore_title_search, migrations.RunPython.noop),
        AddIndexSafely(
            model_name="meeting",
            index=models.Index(fields=["outcome", "starts_at"], name="meeting_outcome_starts"),
        ),
        AddIndexSafely(
            model_name="statuschange",
            index=models.Index(fields=["integration", "changed_at"], name="status_change_at_time"),
        ),
    ]
