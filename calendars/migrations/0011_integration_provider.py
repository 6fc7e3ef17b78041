from django.db import migrations, models


def copy_provider(apps, schema_editor):
    Integration = apps.get_model("calendars", "Integration")
    OAuthApp = apps.get_model("calendars", "OAuthApp")
    for app in OAuthApp.objects.all():
        Integration.objects.filter(credential__oauth_app=app).update(provider=app.provider)


class Migration(migrations.Migration):
    dependencies = [("calendars", "0010_heartbeat")]

    operations = [
        migrations.AddField(
            model_name="integration",
            name="provider",
            field=models.CharField(
                choices=[("google", "Google"), ("microsoft", "Microsoft")], db_index=True, default="google", max_length=16
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="historicalintegration",
            name="provider",
            field=models.CharField(
                choices=[("google", "Google"), ("microsoft", "Microsoft")], db_index=True, default="google", max_length=16
            ),
            preserve_default=False,
        ),
        migrations.RunPython(copy_provider, migrations.RunPython.noop),
    ]
