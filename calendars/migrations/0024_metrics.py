"""/metrics (issue 25): integrations counted by API version too, each webhook's send time, and the
running totals the processes add to."""

from django.db import migrations, models

STATUSES = [
    ("syncing", "Syncing"),
    ("active", "Active"),
    ("error", "Error"),
    ("disconnected", "Disconnected"),
]
PROVIDERS = [("google", "Google"), ("microsoft", "Microsoft")]
VERSIONS = [("v1", "V1"), ("v2", "V2")]


def count_integrations(apps, schema_editor):
    """The counts as the integrations stand; after a deploy, `manage.py recount_integrations`
    takes in what the previous release changed meanwhile without counting."""
    Integration = apps.get_model("calendars", "Integration")
    IntegrationCount = apps.get_model("calendars", "IntegrationCount")
    counts = {
        (status, provider, version): 0
        for status, _ in STATUSES
        for provider, _ in PROVIDERS
        for version, _ in VERSIONS
    }
    grouped = Integration.objects.values_list("status", "provider", "api_version")
    counts |= {(s, p, v): n for s, p, v, n in grouped.annotate(n=models.Count("pk")).order_by()}
    IntegrationCount.objects.bulk_create(
        IntegrationCount(status=s, provider=p, api_version=v, count=n)
        for (s, p, v), n in counts.items()
    )


def count_consent_links(apps, schema_editor):
    """The consent links made, used and revoked so far (calendars/metrics/observers.py keeps
    these totals from now on)."""
    ConsentLink = apps.get_model("calendars", "ConsentLink")
    MetricTotal = apps.get_model("calendars", "MetricTotal")
    links = ConsentLink.objects.all()
    MetricTotal.objects.bulk_create(
        [
            MetricTotal(name="consent_links_made", labels="{}", value=links.count()),
            MetricTotal(
                name="consent_links_used",
                labels="{}",
                value=links.filter(used_at__isnull=False, revoked_at__isnull=True).count(),
            ),
            MetricTotal(
                name="consent_links_revoked",
                labels="{}",
                value=links.filter(revoked_at__isnull=False).count(),
            ),
        ]
    )


class Migration(migrations.Migration):
    dependencies = [("calendars", "0023_integration_status_since_index")]

    operations = [
        # A table of 16 counters, made again with its new key rather than altered: counted
        # again below, in the same transaction, so the home page never sees it empty.
        migrations.DeleteModel(name="IntegrationCount"),
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
                (
                    "api_version",
                    models.CharField(choices=VERSIONS, max_length=2, verbose_name="API version"),
                ),
                ("count", models.BigIntegerField(default=0)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("status", "provider", "api_version"),
                        name="integration_count_unique",
                    )
                ],
            },
        ),
        migrations.RunPython(count_integrations, migrations.RunPython.noop),
        migrations.AddField(
            model_name="webhookdelivery",
            name="sent_at",
            field=models.DateTimeField(
                blank=True, help_text="When Meeting BaaS sent it", null=True
            ),
        ),
        migrations.CreateModel(
            name="MetricTotal",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=100)),
                ("labels", models.CharField(max_length=500)),
                ("value", models.FloatField(default=0)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("name", "labels"), name="metric_total_unique")
                ],
            },
        ),
        migrations.RunPython(count_consent_links, migrations.RunPython.noop),
    ]
