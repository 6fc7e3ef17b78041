from django.db import migrations, models

from calendars.lib.migration_operations import AddIndexSafely


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [
        ("calendars", "0008_status_change_time_default"),
    ]

    operations = [
        AddIndexSafely(
            model_name="integration",
            index=models.Index(fields=["-created_at", "-id"], name="integration_newest_first"),
        ),
    ]
