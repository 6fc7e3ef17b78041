from django.db import migrations, models

from calendars.lib.migration_operations import AddIndexSafely


class Migration(migrations.Migration):
    # Not atomic, so that the index builds concurrently on PostgreSQL (webhook deliveries are
    # kept for months).
    atomic = False

    dependencies = [("calendars", "0045_meeting_outcome_covering")]

    operations = [
        AddIndexSafely(
            model_name="webhookdelivery",
            index=models.Index(
                condition=models.Q(
                    ("api_version", "v2"),
                    ("event__in", ("bot.status_change", "bot.completed", "bot.failed")),
                    ("outcome", "pending"),
                ),
                fields=["received_at", "id"],
                name="webhook_bot_news_pending",
            ),
        ),
    ]
