from django.db import migrations, models

from calendars.lib.migration_operations import AddIndexSafely


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [("calendars", "0030_owner_consent")]

    operations = [
        AddIndexSafely(
            model_name="botattempt",
            index=models.Index(fields=["at"], name="bot_attempt_at"),
        ),
    ]
