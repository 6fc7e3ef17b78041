from django.db import migrations, models

from calendars.lib.migration_operations import AddIndexSafely

# Django's icontains is UPPER(column::text) LIKE UPPER('%term%'): each index is on that very
# expression, so that the planner can use it for a search by part of a name or an e-mail.
TRIGRAM_INDEXES = {
    "customer_name_trgm": ("calendars_customer", "name"),
    "credential_account_email_trgm": ("calendars_credential", "account_email"),
}


def create_trigram_indexes(apps, schema_editor):
    # SQLite has no index for a search by part of a text: it reads the table.
    if schema_editor.connection.vendor != "postgresql":
        return
    # pg_trgm is a trusted extension: the database's owner may create it.
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, (table, column) in TRIGRAM_INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} "
            f"USING gin ((UPPER({column}::text)) gin_trgm_ops)"
        )


def drop_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in TRIGRAM_INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [("calendars", "0019_integration_counts")]

    operations = [
        migrations.RunPython(create_trigram_indexes, drop_trigram_indexes),
        AddIndexSafely(
            model_name="statuschange",
            index=models.Index(fields=["to_status", "changed_at"], name="status_change_to_status"),
        ),
        AddIndexSafely(
            model_name="statuschange",
            index=models.Index(fields=["cause", "changed_at"], name="status_change_cause"),
        ),
        AddIndexSafely(
            model_name="webhookdelivery",
            index=models.Index(fields=["api_version", "received_at"], name="webhook_api_version"),
        ),
        AddIndexSafely(
            model_name="webhookdelivery",
            index=models.Index(fields=["event", "received_at"], name="webhook_event"),
        ),
        # Its first column now: the index on the event alone is dropped.
        migrations.AlterField(
            model_name="webhookdelivery",
            name="event",
            field=models.CharField(max_length=100),
        ),
        AddIndexSafely(
            model_name="actionrecord",
            index=models.Index(fields=["succeeded", "at"], name="action_record_succeeded"),
        ),
    ]
