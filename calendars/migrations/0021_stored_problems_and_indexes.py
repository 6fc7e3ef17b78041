from collections import Counter, defaultdict
from datetime import datetime, time, timedelta

from django.db import migrations, models
from django.db.models.functions import Coalesce, Greatest, TruncDate
from django.utils import timezone

from calendars.lib.migration_operations import AddIndexSafely
from calendars.problems import CAUSES, PROBLEM_STATUSES, charted_as, problem_code

SCOPES = [
    ("all", "Integrations"),
    ("customer", "Integrations of one customer"),
    ("credential", "Integrations of one credential"),
    ("customers", "Customers with any"),
    ("credentials", "Credentials with any"),
]


def classify_and_count(apps, schema_editor):
    """Each integration's class of problem and the counts, as the rows stand; after a deploy,
    `manage.py recount_integrations` takes in what the previous release changed meanwhile."""
    Integration = apps.get_model("calendars", "Integration")
    ProblemCount = apps.get_model("calendars", "ProblemCount")
    newer = Integration.objects.filter(
        raw_calendar=models.OuterRef("raw_calendar"), pk__gt=models.OuterRef("pk")
    )
    rows = (
        Integration.objects.filter(status__in=["error", "disconnected"])
        .annotate(replaced=models.Exists(newer))
        .values_list("pk", "status", "status_cause", "error_message", "remote_status", "replaced")
    )
    by_code = defaultdict(list)
    for pk, status, cause, message, remote_status, replaced in rows.iterator(chunk_size=2000):
        code = problem_code(status, cause, message, remote_status)
        if code and not (replaced and status == "disconnected"):
            by_code[code].append(pk)
    for code, pks in by_code.items():
        for start in range(0, len(pks), 1000):
            Integration.objects.filter(pk__in=pks[start : start + 1000]).update(problem_code=code)
    counted = Integration.objects.exclude(problem_code="").order_by()
    counts = [
        ProblemCount(problem=problem, scope="all", count=n)
        for problem, n in counted.values_list("problem_code").annotate(n=models.Count("pk"))
    ]
    for scope, by in (("customer", "credential__customer_id"), ("credential", "credential_id")):
        holders = defaultdict(int)
        for problem, of, n in counted.values_list("problem_code", by).annotate(
            n=models.Count("pk")
        ):
            counts.append(ProblemCount(problem=problem, scope=scope, of=of, count=n))
            holders[problem] += 1
        counts += [
            ProblemCount(problem=problem, scope=f"{scope}s", count=n)
            for problem, n in holders.items()
        ]
    # Every cause's totals exist, as IntegrationCount's rows do: writers only update them.
    present = {(count.problem, count.scope) for count in counts}
    counts += [
        ProblemCount(problem=cause.code, scope=scope, count=0)
        for cause in CAUSES
        for scope in ("all", "customers", "credentials")
        if (cause.code, scope) not in present
    ]
    ProblemCount.objects.bulk_create(counts, batch_size=5000)


def chart_recent_days(apps, schema_editor):
    """The new problems of the home page's chart (its last 7 days), from the status changes."""
    StatusChange = apps.get_model("calendars", "StatusChange")
    ProblemDay = apps.get_model("calendars", "ProblemDay")
    first = timezone.localdate() - timedelta(days=6)
    changes = (
        StatusChange.objects.filter(
            changed_at__gte=timezone.make_aware(datetime.combine(first, time.min)),
            to_status__in=PROBLEM_STATUSES,
        )
        .annotate(day=TruncDate("changed_at"))
        .values_list("day", "to_status", "cause", "message", "integration__error_message")
        .annotate(n=models.Count("pk"))
        .order_by()
    )
    counts = Counter()
    for day, to_status, cause, message, learned, n in changes.iterator():
        code = charted_as(to_status, cause, message, learned)
        if code:
            counts[day, code] += n
    ProblemDay.objects.bulk_create(
        ProblemDay(day=day, problem=problem, count=n) for (day, problem), n in counts.items()
    )


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [("calendars", "0020_search_and_filter_indexes")]

    operations = [
        migrations.CreateModel(
            name="ProblemCount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("problem", models.CharField(max_length=32)),
                ("scope", models.CharField(choices=SCOPES, max_length=12)),
                ("of", models.BigIntegerField(default=0)),
                ("count", models.BigIntegerField(default=0)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("problem", "scope", "of"), name="problem_count_unique"
                    )
                ],
                "indexes": [
                    models.Index(
                        fields=["problem", "scope", "-count", "of"], name="problem_count_most"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="ProblemDay",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("problem", models.CharField(max_length=32)),
                ("count", models.BigIntegerField(default=0)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("day", "problem"), name="problem_day_unique")
                ],
            },
        ),
        migrations.RunPython(chart_recent_days, migrations.RunPython.noop, atomic=True),
        migrations.AddField(
            model_name="integration",
            name="problem_code",
            field=models.CharField(
                blank=True, db_default="", default="", editable=False, max_length=32
            ),
        ),
        migrations.RunPython(classify_and_count, migrations.RunPython.noop, atomic=True),
        AddIndexSafely(
            model_name="integration",
            index=models.Index(
                condition=~models.Q(problem_code=""),
                fields=["problem_code", "-created_at", "-id"],
                name="integration_problem",
            ),
        ),
        AddIndexSafely(
            model_name="integration",
            index=models.Index(
                condition=~models.Q(problem_code=""),
                fields=["status_changed_at", "id"],
                name="integration_problem_since",
            ),
        ),
        AddIndexSafely(
            model_name="integration",
            index=models.Index(fields=["provider", "-id"], name="integration_provider_id"),
        ),
        # Redundant beside the index above, which leads with the provider.
        migrations.RemoveIndex(model_name="integration", name="integration_provider"),
        AddIndexSafely(
            model_name="integration",
            index=models.Index(fields=["status", "-id"], name="integration_status_id"),
        ),
        AddIndexSafely(
            model_name="integration",
            index=models.Index(fields=["provider", "id"], name="integration_provider_id_desc"),
        ),
        AddIndexSafely(
            model_name="integration",
            index=models.Index(fields=["status", "id"], name="integration_status_id_desc"),
        ),
        AddIndexSafely(
            model_name="customer",
            index=models.Index(fields=["name"], name="customer_name"),
        ),
        AddIndexSafely(
            model_name="rawcalendar",
            index=models.Index(fields=["name"], name="raw_calendar_name"),
        ),
        AddIndexSafely(
            model_name="meeting",
            index=models.Index(
                condition=models.Q(("is_cancelled", False)) & ~models.Q(bot_failure=""),
                fields=["has_bot", "starts_at", "id"],
                name="meeting_bot_failed",
            ),
        ),
        AddIndexSafely(
            model_name="meeting",
            index=models.Index(
                condition=models.Q(("is_cancelled", False), ("meeting_url", "")),
                fields=["has_bot", "starts_at", "id"],
                name="meeting_no_url",
            ),
        ),
        AddIndexSafely(
            model_name="credential",
            index=models.Index(
                Greatest(
                    Coalesce("last_used_at", "created_at"),
                    Coalesce("consented_at", "created_at"),
                    Coalesce("refresh_token_replaced_at", "created_at"),
                ),
                name="credential_grant_last_used",
            ),
        ),
    ]
