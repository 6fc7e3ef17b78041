from django.db import migrations, models

STATUSES = [
    ("syncing", "Syncing"),
    ("active", "Active"),
    ("error", "Error"),
    ("disconnected", "Disconnected"),
]
PROVIDERS = [("google", "Google"), ("microsoft", "Microsoft")]


def count_integrations(apps, schema_editor):
    """The counts as the integrations stand; after a deploy, `manage.py recount_integrations`
    takes in what the previous release changed meanwhile without counting."""
    Integration = apps.get_model("calendars", "Integration")
    IntegrationCount = apps.get_model("calendars", "IntegrationCount")
    counts = {(status, provider): 0 for status, _ in STATUSES for provider, _ in PROVIDERS}
    grouped = Integration.objects.values_list("status", "provider").annotate(n=models.Count("pk"))
    counts |= {(status, provider): n for status, provider, n in grouped.order_by()}
    IntegrationCount.objects.bulk_create(
        IntegrationCount(status=status, provider=provider, count=n)
        for (status, provider), n in counts.items()
    )


class Migration(migrations.Migration):
    dependencies = [("calendars", "0018_reconciliation_and_expiry")]

    operations = [
        migrations.CreateModel(
            name="IntegrationCount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("status", models.CharField(choices=STATUSES, max_length=16)),
                ("provider", models.CharField(choices=PROVIDERS, max_length=16)),
                ("count", models.BigIntegerField(default=0)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("status", "provider"), name="integration_count_unique"
                    )
                ],
            },
        ),
        migrations.RunPython(count_integrations, migrations.RunPython.noop),
    ]
