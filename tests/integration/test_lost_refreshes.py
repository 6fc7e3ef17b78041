"""A "Refresh status" whose task a stopped worker lost is queued again once, then recorded as not
done; each is counted, on the home page and in /metrics."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_q.models import Task

from calendars.actions import lost_refreshes
from calendars.actions.refresh import queue_refresh, refresh_task_name
from calendars.metrics import totals
from calendars.models import ActionRecord, Integration
from calendars.outage import breaker
from tests.integration.test_metrics import TOKEN, scrape, value

LOST = {"task": "refresh_integration"}


@pytest.fixture
def asked(make_integration, settings):
    """An integration whose "Refresh status" was queued longer than Q_RETRY ago and never ran."""
    integration = make_integration()
    ActionRecord.objects.create(
        action="refresh status",
        username="support",
        succeeded=None,
        message="queued",
        integration=integration,
    )
    _age_records(integration, settings.Q_CLUSTER["retry"] + 30)
    return integration


def _age_records(integration: Integration, seconds: float) -> None:
    """Its records made `seconds` ago, its last refresh (its creation's) before them."""
    at = timezone.now() - timedelta(seconds=seconds)
    ActionRecord.objects.filter(integration=integration).update(at=at)
    Integration.objects.filter(pk=integration.pk, last_refreshed_at__gte=at).update(
        last_refreshed_at=at - timedelta(minutes=1)
    )


def _records(integration: Integration) -> list[tuple[str, bool | None]]:
    found = ActionRecord.objects.filter(integration=integration, action="refresh status")
    return list(found.order_by("pk").values_list("message", "succeeded"))


def test_a_lost_refresh_is_queued_again_and_runs(asked, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # tasks run inline in tests
        swept = lost_refreshes.sweep()

    assert (swept.requeued, swept.not_done) == (1, 0)
    assert _records(asked)[-1] == (lost_refreshes.REQUEUED, None)
    asked.refresh_from_db()
    assert asked.last_refreshed_at is not None  # the refresh asked for happened after all
    # Refreshed since: nothing more to do.
    assert lost_refreshes.sweep() == lost_refreshes.Swept()


def test_a_refresh_lost_twice_is_recorded_as_not_done(asked, settings, client, admin_client):
    with pytest.MonkeyPatch.context() as patch:  # the queued-again task is lost too
        patch.setattr(lost_refreshes.queue, "enqueue_on_commit", lambda *a, **k: None)
        assert lost_refreshes.sweep().requeued == 1
    _age_records(asked, settings.Q_CLUSTER["retry"] + 30)

    swept = lost_refreshes.sweep()

    assert (swept.requeued, swept.not_done) == (0, 1)
    assert _records(asked)[-1] == (lost_refreshes.NOT_DONE, False)
    assert ActionRecord.objects.filter(succeeded=False).get().outcome == "failed"
    assert lost_refreshes.sweep() == lost_refreshes.Swept()  # said once
    home = admin_client.get(reverse("admin:index")).content.decode()
    assert "2 refresh tasks people asked for were lost with a stopped worker" in home
    assert "1 queued again, of which" in home and ">1 lost again and not done</a>" in home
    settings.METRICS_TOKEN = TOKEN
    totals._pending.clear()
    scraped = scrape(client)
    family = "portal_tasks_lost"
    assert value(scraped, family, "portal_tasks_lost_total", **LOST, outcome="requeued") == 1
    assert value(scraped, family, "portal_tasks_lost_total", **LOST, outcome="not_done") == 1


def test_a_refresh_done_since_or_whose_task_ran_is_not_lost(asked, make_integration, settings):
    refreshed = make_integration("alice.team@group.calendar.google.com")
    ActionRecord.objects.create(
        action="refresh status",
        username="support",
        succeeded=None,
        message="queued",
        integration=refreshed,
    )
    _age_records(refreshed, settings.Q_CLUSTER["retry"] + 30)
    Integration.objects.filter(pk=refreshed.pk).update(last_refreshed_at=timezone.now())
    # `asked`'s task ran (and failed, say): a failed task, not a lost one.
    now = timezone.now()
    Task.objects.create(
        id="t1",
        name=refresh_task_name(asked.pk),
        func="calendars.tasks.refresh_integration",
        started=now,
        stopped=now,
        success=False,
    )

    assert lost_refreshes.sweep() == lost_refreshes.Swept()


def test_a_refresh_asked_lately_or_asked_again_is_not_lost(make_integration, settings):
    lately = make_integration()
    queue_refresh([lately], acting_user=None)
    _age_records(lately, settings.Q_CLUSTER["retry"] - 30)
    assert lost_refreshes.sweep() == lost_refreshes.Swept()

    again = make_integration("alice.team@group.calendar.google.com")
    for _ in range(2):
        ActionRecord.objects.create(
            action="refresh status",
            username="support",
            succeeded=None,
            message="queued",
            integration=again,
        )
    _age_records(again, settings.Q_CLUSTER["retry"] + 30)
    # Only the later of the two asks is looked at: one re-queue, not two.
    assert lost_refreshes.sweep().requeued == 1


def test_nothing_is_called_lost_while_meeting_baas_is_unreachable(asked, monkeypatch):
    monkeypatch.setattr(breaker, "current", lambda: object())

    assert lost_refreshes.sweep() == lost_refreshes.Swept()
    assert len(_records(asked)) == 1
