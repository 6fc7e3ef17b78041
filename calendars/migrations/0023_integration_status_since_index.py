from django.db import migrations, models

from calendars.lib.migration_operations import AddIndexSafely


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [("calendars", "0022_meeting_search_indexes")]

    operations = [
        AddIndexSafely(
            model_name="integration",
            index=models.Index(
                fields=["status", "status_changed_at", "id"], name="integration_status_since"
            ),
        ),
        # Its prefix: the index above serves whatever it did.
        migrations.RemoveIndex(model_name="integration", name="calendars_i_status_ac6185_idx"),
    ]
