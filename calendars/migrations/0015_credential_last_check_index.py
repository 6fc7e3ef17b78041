from django.db import migrations, models

from calendars.lib.migration_operations import AddIndexSafely


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [
        ("calendars", "0014_labels_in_the_domains_spelling"),
    ]

    operations = [
        AddIndexSafely(
            model_name="credential",
            index=models.Index(
                fields=["last_check_ok", "last_checked_at"], name="credential_last_check"
            ),
        ),
    ]
