from django.db import migrations, models

from calendars.lib.migration_operations import AddIndexSafely


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [("calendars", "0036_admin_consent")]

    operations = [
        AddIndexSafely(
            model_name="meeting",
            index=models.Index(
                condition=models.Q(("bot_id__isnull", False)),
                fields=["bot_id"],
                name="meeting_bot_id",
            ),
        ),
    ]
