"""The integrations list: columns, filters, search, and the "Refresh status" action."""

from __future__ import annotations

import time

from django.urls import reverse
from django.utils.text import capfirst
from django_q.models import Task

from calendars.actions.integrations import disconnect_integration
from calendars.actions.refresh import refresh_integration

CHANGELIST = reverse("admin:calendars_integration_changelist")


def test_the_list_shows_status_customer_account_and_provider(
    admin_client, sandbox, make_integration
):
    make_integration()

    response = admin_client.get(CHANGELIST)

    html = response.content.decode()
    # Few columns, to fit a 1440 px window beside the filters (test_browser_page_widths).
    headers = [capfirst(header["text"]) for header in response.context["result_headers"]][1:]
    assert headers == [
        "Calendar",
        "Customer / account",
        "Provider",
        "Status",
        "Problem",
        "Refreshed",
    ]
    for text in (
        "Cal alice@example.com</a>",
        "Acme Corp</a><br><small>alice@example.com</small>",
        "Google<br><small>API V2</small>",
        '<td class="field-status">Syncing</td>',
    ):
        assert text in html


def test_filters_and_search(admin_client, sandbox, make_integration):
    integration = make_integration()
    sandbox.force(integration.remote_id, status="error", status_message="boom")
    refresh_integration(integration.pk)
    make_integration("alice.team@group.calendar.google.com")

    by_status = admin_client.get(CHANGELIST, {"status__exact": "error"}).context["cl"]
    by_email = admin_client.get(CHANGELIST, {"q": "alice@"}).context["cl"]
    by_remote = admin_client.get(CHANGELIST, {"q": str(integration.remote_id)}).context["cl"]
    by_provider = admin_client.get(CHANGELIST, {"provider__exact": "microsoft"}).context["cl"]

    assert [i.pk for i in by_status.result_list] == [integration.pk]
    assert by_email.result_count == 2
    assert [i.pk for i in by_remote.result_list] == [integration.pk]
    assert by_provider.result_count == 0


def test_refresh_status_runs_a_task_per_integration(admin_client, sandbox, make_integration):
    integration = make_integration()
    time.sleep(0.35)

    response = admin_client.post(
        CHANGELIST, {"action": "refresh_status", "_selected_action": [integration.pk]}, follow=True
    )

    assert "Status refresh queued for 1 integration" in response.content.decode()
    integration.refresh_from_db()
    assert integration.status == "active"
    task = Task.objects.get()
    assert task.args == (integration.pk,)


def test_the_integration_page_shows_its_status_history(admin_client, sandbox, make_integration):
    integration = make_integration()
    sandbox.force(integration.remote_id, status="error", status_message="Token expired")
    refresh_integration(integration.pk)

    html = admin_client.get(
        reverse("admin:calendars_integration_change", args=[integration.pk])
    ).content.decode()

    assert "Token expired" in html
    assert "Status changes" in html


def test_a_customer_links_to_its_integrations(admin_client, sandbox, make_integration, customer):
    make_integration()

    customers = admin_client.get(reverse("admin:calendars_customer_changelist")).content.decode()
    filtered = admin_client.get(CHANGELIST, {"customer": customer.pk}).context["cl"]
    other = admin_client.get(CHANGELIST, {"customer": customer.pk + 1000}).context["cl"]

    assert f"?customer={customer.pk}" in customers
    assert filtered.result_count == 1 and other.result_count == 0


def test_a_disconnection_on_purpose_lists_who_did_it_as_its_problem(
    admin_client, admin_user, sandbox, make_integration
):
    integration = make_integration()
    disconnect_integration(integration.pk, acting_user=admin_user)

    html = admin_client.get(CHANGELIST).content.decode()

    assert '<td class="field-problem">Disconnected through the portal by admin.</td>' in html
