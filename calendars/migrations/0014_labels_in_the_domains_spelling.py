# Labels in the domain's spelling ("client ID", "API version", "primary", "time"): no SQL.

from django.db import migrations, models

import calendars.lib.validators


class Migration(migrations.Migration):
    dependencies = [
        ("calendars", "0013_bulk_item_outcome"),
    ]

    operations = [
        migrations.AlterField(
            model_name="actionrecord",
            name="at",
            field=models.DateTimeField(auto_now_add=True, db_index=True, verbose_name="time"),
        ),
        migrations.AlterField(
            model_name="bulkjobitem",
            name="worked_by",
            field=models.CharField(
                blank=True,
                help_text="NODE_NAME of the host",
                max_length=100,
                verbose_name="worker host",
            ),
        ),
        migrations.AlterField(
            model_name="credential",
            name="last_check_ok",
            field=models.BooleanField(null=True, verbose_name="last check OK"),
        ),
        migrations.AlterField(
            model_name="historicalintegration",
            name="api_version",
            field=models.CharField(
                choices=[("v1", "V1"), ("v2", "V2")], max_length=2, verbose_name="API version"
            ),
        ),
        migrations.AlterField(
            model_name="historicaloauthapp",
            name="client_id",
            field=models.CharField(
                max_length=300,
                validators=[calendars.lib.validators.reject_control_characters],
                verbose_name="client ID",
            ),
        ),
        migrations.AlterField(
            model_name="historicalrawcalendar",
            name="is_primary",
            field=models.BooleanField(default=False, verbose_name="primary"),
        ),
        migrations.AlterField(
            model_name="historicalrawcalendar",
            name="provider_id",
            field=models.CharField(max_length=1024, verbose_name="provider calendar ID"),
        ),
        migrations.AlterField(
            model_name="integration",
            name="api_version",
            field=models.CharField(
                choices=[("v1", "V1"), ("v2", "V2")], max_length=2, verbose_name="API version"
            ),
        ),
        migrations.AlterField(
            model_name="oauthapp",
            name="client_id",
            field=models.CharField(
                max_length=300,
                validators=[calendars.lib.validators.reject_control_characters],
                verbose_name="client ID",
            ),
        ),
        migrations.AlterField(
            model_name="rawcalendar",
            name="is_primary",
            field=models.BooleanField(default=False, verbose_name="primary"),
        ),
        migrations.AlterField(
            model_name="rawcalendar",
            name="provider_id",
            field=models.CharField(max_length=1024, verbose_name="provider calendar ID"),
        ),
        migrations.AlterField(
            model_name="refreshrun",
            name="api_version",
            field=models.CharField(
                choices=[("v1", "V1"), ("v2", "V2")], max_length=2, verbose_name="API version"
            ),
        ),
        migrations.AlterField(
            model_name="webhookdelivery",
            name="api_version",
            field=models.CharField(
                choices=[("v1", "V1"), ("v2", "V2")], max_length=2, verbose_name="API version"
            ),
        ),
        migrations.AlterField(
            model_name="webhookdelivery",
            name="delivery_id",
            field=models.CharField(max_length=200, unique=True, verbose_name="delivery ID"),
        ),
    ]
