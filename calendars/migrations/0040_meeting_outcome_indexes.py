from django.db import migrations, models

from calendars.lib.migration_operations import AddIndexSafely


class Migration(migrations.Migration):
    # Not atomic, so that the indexes build concurrently on PostgreSQL (the meetings table
    # keeps MEETINGS_HISTORY_DAYS of meetings).
    atomic = False

    dependencies = [("calendars", "0039_support_notices")]

    operations = [
        # Choices only: no column changes, so SQLite does not remake calendars_meeting.
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
