"""The home page's per-status and per-provider counts are kept exact by the code that changes
a status, and `recount_integrations` counts again from the rows."""

from __future__ import annotations

import io
import time

from django.core.management import call_command
from django.db.models import Count

from calendars.actions.integrations import disconnect_integration, recreate_integration
from calendars.actions.refresh import refresh_integration
from calendars.models import Integration, IntegrationCount
from calendars.queries.dashboard import integration_bars


def kept() -> dict[tuple[str, str], int]:
    return {(c.status, c.provider): c.count for c in IntegrationCount.objects.all() if c.count}


def counted() -> dict[tuple[str, str], int]:
    grouped = Integration.objects.values_list("status", "provider").annotate(n=Count("pk"))
    return {(status, provider): n for status, provider, n in grouped.order_by()}


def test_the_counts_follow_create_refresh_disconnect_and_recreate(
    sandbox, make_integration, admin_user
):
    first = make_integration()
    second = make_integration("alice.team@group.calendar.google.com")
    assert kept() == counted() == {("syncing", "google"): 2}

    time.sleep(0.35)  # the sandbox ends the first sync
    refresh_integration(first.pk)
    sandbox.force(second.remote_id, status="error", status_message="quota exceeded")
    refresh_integration(second.pk)
    assert kept() == counted() == {("active", "google"): 1, ("error", "google"): 1}

    disconnect_integration(second.pk, acting_user=admin_user)
    assert kept() == counted() == {("active", "google"): 1, ("disconnected", "google"): 1}

    recreated = recreate_integration(second.pk, acting_user=admin_user)
    assert recreated.pk != second.pk
    assert (
        kept()
        == counted()
        == {
            ("active", "google"): 1,
            ("disconnected", "google"): 1,
            ("syncing", "google"): 1,
        }
    )


def test_the_home_page_bars_read_the_counts_not_the_rows(sandbox, make_integration):
    make_integration()
    make_integration("alice.team@group.calendar.google.com")
    # Written around the portal, as SQL would: the bars do not count rows on every view.
    Integration.objects.update(status="error")

    statuses, by_provider = integration_bars()
    bars = {bar.label: bar.count for bar in statuses}
    providers = {bar.label: bar.count for bar in by_provider}

    assert bars == {"syncing": 2, "active": 0, "error": 0, "disconnected": 0}
    assert providers == {"google": 2, "microsoft": 0}


def test_recount_corrects_rows_written_around_the_portal(sandbox, make_integration):
    integration = make_integration()
    Integration.objects.filter(pk=integration.pk).update(status="error")  # as SQL would
    assert kept() == {("syncing", "google"): 1}

    out = io.StringIO()
    call_command("recount_integrations", stdout=out)

    assert kept() == counted() == {("error", "google"): 1}
    assert "google error: 1 (was 0)" in out.getvalue()
    assert "google syncing: 0 (was 1)" in out.getvalue()
