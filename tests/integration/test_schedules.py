"""Periodic work: what each schedule does; test_scale_out shows each runs once across clusters."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django_q.models import Schedule

from calendars import queue, tasks
from calendars.models import BulkJob, Integration


def test_every_periodic_task_has_its_schedule(db):
    queue.ensure_schedules()

    funcs = dict(Schedule.objects.values_list("name", "func"))
    assert funcs == {
        queue.REFRESH_ALL_SCHEDULE: "calendars.tasks.refresh_all_integrations",
        queue.WEBHOOK_SWEEP_SCHEDULE: "calendars.tasks.sweep_pending_webhooks",
        queue.BULK_SWEEP_SCHEDULE: "calendars.tasks.sweep_bulk_jobs",
        queue.LOST_REFRESH_SCHEDULE: "calendars.tasks.sweep_lost_refreshes",
        queue.RENEWAL_SCHEDULE: "calendars.tasks.renew_expiring_subscriptions",
        queue.MEETING_SYNC_SCHEDULE: "calendars.tasks.queue_meeting_syncs",
        queue.HEARTBEAT_SCHEDULE: "calendars.tasks.heartbeat",
        queue.V1_HEALTH_SCHEDULE: "calendars.tasks.check_v1_health",
        queue.RECONCILIATION_SCHEDULE: "calendars.tasks.reconcile_daily",
        queue.RECONCILIATION_SWEEP_SCHEDULE: "calendars.tasks.sweep_reconciliations",
        queue.BOT_POLL_SCHEDULE: "calendars.tasks.poll_bot_news",
        queue.OUTREACH_SCHEDULE: "calendars.tasks.run_outreach",
        queue.NOTIFY_SCHEDULE: "calendars.tasks.notify_support",
        queue.OUTCOMES_SCHEDULE: "calendars.tasks.settle_meeting_outcomes",
        queue.SHARED_BOTS_SCHEDULE: "calendars.tasks.move_shared_bots",
        queue.LOST_ASKS_SCHEDULE: "calendars.tasks.ask_lost_bots_again",
    }


def test_subscriptions_about_to_lapse_are_renewed_in_a_bulk_job(sandbox, make_integration):
    lapsing, later, broken = (
        make_integration(),
        make_integration("alice.team@group.calendar.google.com"),
        make_integration("alice.oncall@group.calendar.google.com"),
    )
    soon = timezone.now() + timedelta(hours=3)
    Integration.objects.filter(pk__in=[lapsing.pk, broken.pk]).update(
        status="active", subscription_expires_at=soon
    )
    Integration.objects.filter(pk=broken.pk).update(status="error")
    Integration.objects.filter(pk=later.pk).update(
        status="active", subscription_expires_at=timezone.now() + timedelta(days=5)
    )

    summary = tasks.renew_expiring_subscriptions()

    job = BulkJob.objects.get()
    assert job.kind == "resubscribe" and job.created_by is None
    assert list(job.items.values_list("integration_id", flat=True)) == [lapsing.pk]
    assert summary == f"bulk job {job.pk} renews 1 subscription"
    # Until its job has run, the next hour's check leaves the integration to it.
    assert tasks.renew_expiring_subscriptions() == "no subscription lapses soon"
    assert BulkJob.objects.count() == 1


def test_a_renewal_job_extends_the_subscription(
    sandbox, make_integration, django_capture_on_commit_callbacks
):
    integration = make_integration()
    Integration.objects.filter(pk=integration.pk).update(
        status="active", subscription_expires_at=timezone.now() + timedelta(hours=1)
    )

    with django_capture_on_commit_callbacks(execute=True):
        tasks.renew_expiring_subscriptions()

    renewed = Integration.objects.get(pk=integration.pk)
    assert renewed.subscription_expires_at > timezone.now() + timedelta(days=6)
    assert sandbox.requests_to("POST", f"/v2/calendars/{integration.remote_id}/resubscribe")
    assert BulkJob.objects.get().finished_at is not None
