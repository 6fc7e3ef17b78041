"""The admin home: counts by status and provider, the needs-attention queue, recent activity."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from calendars.actions.integrations import disconnect_integration
from calendars.actions.refresh import mark_disconnected, refresh_integration
from calendars.models import Integration

INDEX = reverse("admin:index")


def test_counts_link_to_the_filtered_lists(admin_client, sandbox, make_integration):
    make_integration()
    make_integration("alice.team@group.calendar.google.com")

    html = admin_client.get(INDEX).content.decode()

    assert '<svg role="img" aria-label="By status"' in html
    assert "/admin/calendars/integration/?status__exact=syncing" in html
    assert "/admin/calendars/integration/?provider__exact=google" in html
    assert '<text x="346" y="17" class="count">2</text>' in html  # syncing: the longest bar, 2


def test_the_queue_lists_what_is_broken_oldest_first(admin_client, sandbox, make_integration):
    now = timezone.now()
    broken = make_integration()
    sandbox.force(
        broken.remote_id,
        status="error",
        status_message="invalid_grant: Token has been expired or revoked.",
    )
    refresh_integration(broken.pk)
    stuck = make_integration("alice.team@group.calendar.google.com")
    Integration.objects.filter(pk=stuck.pk).update(status_changed_at=now - timedelta(hours=2))
    gone = make_integration("alice.oncall@group.calendar.google.com")
    mark_disconnected(gone.pk, message="Deleted on Meeting BaaS at 2026-11-25.", cause="webhook")
    Integration.objects.filter(pk=gone.pk).update(status_changed_at=now - timedelta(hours=5))

    html = admin_client.get(INDEX).content.decode()
    queue = html[html.index('id="needs-attention"') :]

    assert (
        queue.index("Cal alice.oncall@")
        < queue.index("Cal alice.team@")
        < queue.index("Cal alice@example.com")
    )
    assert "Refresh token refused or revoked" in queue and "Not found remotely" in queue
    assert "stuck in syncing" in queue and "disconnected remotely" in queue
    assert "Acme Corp" in queue and "invalid_grant" in queue


def test_healthy_and_deliberately_disconnected_integrations_stay_out(
    admin_client, sandbox, make_integration
):
    make_integration()
    disconnected = make_integration("alice.team@group.calendar.google.com")
    disconnect_integration(disconnected.pk)

    html = admin_client.get(INDEX).content.decode()

    assert "Nothing needs attention." in html


def test_stale_refresh_and_expiring_subscriptions_need_attention(
    admin_client, sandbox, make_integration, settings
):
    stale = make_integration()
    expiring = make_integration("alice.team@group.calendar.google.com")
    now = timezone.now()
    Integration.objects.filter(pk=stale.pk).update(
        last_refreshed_at=now - timedelta(minutes=3 * settings.STATUS_REFRESH_MINUTES),
        status="active",
    )
    Integration.objects.filter(pk=expiring.pk).update(
        subscription_expires_at=now + timedelta(hours=3), status="active"
    )

    html = admin_client.get(INDEX).content.decode()

    assert "not refreshed lately" in html and "push subscription expiring" in html


def test_recent_activity_and_an_auditor_sees_the_dashboard(role_client, sandbox, make_integration):
    make_integration()

    html = role_client("Auditor").get(INDEX).content.decode()

    assert "Recent activity" in html and "∅ → syncing" in html
