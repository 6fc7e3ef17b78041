import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from calendars.lib.migration_operations import AddIndexSafely


class Migration(migrations.Migration):
    # Not atomic, so that the findings' meeting index builds concurrently on PostgreSQL.
    atomic = False

    dependencies = [
        ('calendars', '0043_coverage_days'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='reconciliation',
            name='bot_findings',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='reconciliationfinding',
            name='meeting',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='calendars.meeting'),
        ),
        migrations.AlterField(
            model_name='reconciliationfinding',
            name='kind',
            field=models.CharField(choices=[('orphan', 'Orphan: on Meeting BaaS, in no integration'), ('ghost', 'Ghost: an integration Meeting BaaS no longer has'), ('drift', 'Drift: fields that differ'), ('bot_dup', 'Duplicate bot: one meeting, several bots'), ('bot_out', 'Unwanted bot: the policy would not schedule it'), ('bot_miss', 'Missing bot: the policy wants it recorded')], max_length=8),
        ),
        migrations.AlterField(
            model_name='reconciliationfinding',
            name='outcome',
            field=models.CharField(choices=[('open', 'Open: waiting for an admin'), ('adopted', 'Adopted'), ('deleted', 'Deleted on Meeting BaaS'), ('disconnected', 'Marked disconnected'), ('corrected', 'Corrected'), ('not_corrected', 'Not corrected'), ('settled', 'Settled elsewhere'), ('bot_removed', 'Duplicate bot removed'), ('bot_scheduled', 'Bot scheduled')], default='open', max_length=16),
        ),
        AddIndexSafely(
            model_name='reconciliationfinding',
            index=models.Index(condition=models.Q(('meeting__isnull', False)), fields=['meeting'], name='finding_meeting'),
        ),
    ]
