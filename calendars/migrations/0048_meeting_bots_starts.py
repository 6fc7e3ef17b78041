from django.db import migrations, models

from calendars.lib.migration_operations import AddIndexSafely


class Migration(migrations.Migration):
    # Not atomic, so that the index is made concurrently on PostgreSQL (the meetings table
    # keeps MEETINGS_HISTORY_DAYS of meetings: 10,000,000 at 100,000 integrations).
    atomic = False

    dependencies = [("calendars", "0047_same_meeting")]

    operations = [
        AddIndexSafely(
            model_name="meeting",
            index=models.Index(
                fields=["has_bot", "is_cancelled", "starts_at", "id"],
                name="meeting_bots_starts",
                condition=models.Q(has_bot=True, is_cancelled=False),
            ),
        ),
    ]
