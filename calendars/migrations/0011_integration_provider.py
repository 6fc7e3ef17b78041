from django.db import migrations, models

from calendars.lib.migration_operations import AddIndexSafely


def copy_provider(apps, schema_editor):
    Integration = apps.get_model("calendars", "Integration")
    OAuthApp = apps.get_model("calendars", "OAuthApp")
    for app in OAuthApp.objects.all():
        Integration.objects.filter(credential__oauth_app=app).update(provider=app.provider)


PROVIDER = models.CharField(
    choices=[("google", "Google"), ("microsoft", "Microsoft")], default="google", max_length=16
)


class Migration(migrations.Migration):
    # Not atomic, so that the provider index builds concurrently on PostgreSQL; the column
    # itself is added with a constant default, which PostgreSQL does without a rewrite.
    atomic = False

    dependencies = [("calendars", "0010_heartbeat")]

    operations = [
        migrations.AddField(
            model_name="integration", name="provider", field=PROVIDER, preserve_default=False
        ),
        migrations.AddField(
            model_name="historicalintegration",
            name="provider",
            field=PROVIDER.clone(),
            preserve_default=False,
        ),
        migrations.RunPython(copy_provider, migrations.RunPython.noop),
        AddIndexSafely(
            model_name="integration",
            index=models.Index(fields=["provider"], name="integration_provider"),
        ),
    ]
