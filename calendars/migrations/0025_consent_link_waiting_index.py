from django.db import migrations, models

from calendars.lib.migration_operations import AddIndexSafely


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [("calendars", "0024_metrics")]

    operations = [
        AddIndexSafely(
            model_name="consentlink",
            index=models.Index(
                condition=models.Q(("revoked_at__isnull", True), ("used_at__isnull", True)),
                fields=["expires_at"],
                name="consent_link_waiting",
            ),
        ),
    ]
