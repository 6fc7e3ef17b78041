from django.db import migrations, models

from calendars.lib.migration_operations import AddIndexSafely, RemoveIndexSafely


class Migration(migrations.Migration):
    # Not atomic, so that the indexes are made and dropped concurrently on PostgreSQL (the
    # meetings table keeps MEETINGS_HISTORY_DAYS of meetings: 10,000,000 at 100,000
    # integrations). The new index is made before the one it replaces is dropped.
    atomic = False

    dependencies = [("calendars", "0044_reconciliation_bots")]

    operations = [
        AddIndexSafely(
            model_name="meeting",
            index=models.Index(
                fields=["outcome", "starts_at"],
                include=["outcome_cause", "ends_at"],
                name="meeting_outcome_covering",
            ),
        ),
        RemoveIndexSafely(model_name="meeting", name="meeting_outcome_starts"),
    ]
