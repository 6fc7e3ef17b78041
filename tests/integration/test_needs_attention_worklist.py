"""The needs-attention worklist: its total, groups by cause and customer, and "see all"."""

from __future__ import annotations

import html as html_lib
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from calendars.models import Customer
from tests.support.broken_rows import broken_integrations

INDEX = reverse("admin:index")
CHANGELIST = reverse("admin:calendars_integration_changelist")
REVOKED = "invalid_grant: Token has been expired or revoked."
QUOTA = "Calendar API quota exceeded"


@pytest.fixture
def globex(db: None) -> Customer:
    return Customer.objects.create(name="Globex", external_ref="globex")


def queue_of(page: str) -> str:
    return page[page.index('id="needs-attention"') : page.index("Recent activity")]


def test_groups_count_integrations_and_customers_by_cause(
    role_client, customer, globex, google_app
):
    broken_integrations(customer, google_app, 2, message=REVOKED)
    broken_integrations(globex, google_app, 1, message=REVOKED)
    broken_integrations(customer, google_app, 1, message=QUOTA)
    broken_integrations(
        globex, google_app, 1, message="Deleted on Meeting BaaS.", status="disconnected"
    )

    queue = queue_of(role_client("Support").get(INDEX).content.decode())

    assert "Needs attention: 5 integrations" in queue
    assert "<strong>Refresh token refused or revoked</strong>: 3 integrations, 2 customers" in queue
    assert (
        "<strong>Rate limited or Meeting BaaS unavailable</strong>: 1 integration, 1 customer"
        in queue
    )
    assert "<strong>Not found remotely</strong>: 1 integration, 1 customer" in queue
    # The biggest group first, each naming its customers, biggest first, each linked.
    assert queue.index("Refresh token refused") < queue.index("Rate limited")
    assert f'href="{CHANGELIST}?problem=token_refused"' in queue
    assert (
        f'href="{CHANGELIST}?problem=token_refused&amp;customer={customer.pk}">Acme Corp</a> (2)'
        in queue
    )
    assert (
        f'href="{CHANGELIST}?problem=token_refused&amp;customer={globex.pk}">Globex</a> (1)'
        in queue
    )
    assert "then use &quot;Replace refresh token&quot; on the credential" in queue


def test_a_group_link_lists_exactly_that_group_with_its_fixes(
    role_client, customer, globex, google_app
):
    acme_revoked = broken_integrations(customer, google_app, 2, message=REVOKED)
    globex_revoked = broken_integrations(globex, google_app, 1, message=REVOKED)
    quota = broken_integrations(customer, google_app, 1, message=QUOTA)
    client = role_client("Support")

    group = client.get(f"{CHANGELIST}?problem=token_refused").content.decode()
    acme_only = client.get(
        f"{CHANGELIST}?problem=token_refused&customer={customer.pk}"
    ).content.decode()
    everything = client.get(f"{CHANGELIST}?problem=any").content.decode()

    def shown(page: str, integrations: list) -> list[bool]:
        return [str(i.raw_calendar) in page for i in integrations]

    assert shown(group, acme_revoked + globex_revoked) == [True] * 3
    assert shown(group, quota) == [False]
    assert shown(acme_only, acme_revoked + globex_revoked) == [True, True, False]
    assert shown(everything, acme_revoked + globex_revoked + quota) == [True] * 4
    # The bulk fix is one action away.
    assert '<option value="resync">' in group


def test_the_queue_shows_its_total_and_a_link_to_see_all_beyond_fifty(
    role_client, customer, google_app
):
    broken_integrations(customer, google_app, 53, message=REVOKED)

    queue = queue_of(role_client("Support").get(INDEX).content.decode())

    assert "Needs attention: 53 integrations" in queue
    assert queue.count("<tr>") == 1 + 50  # the header, then 50 rows
    assert "The 50 longest broken of 53." in queue
    assert f'<a href="{CHANGELIST}?problem=any">See all 53 in the integrations list</a>' in queue


def test_the_home_page_costs_the_same_queries_with_ten_times_the_problems(
    admin_client, customer, globex, google_app
):
    broken_integrations(customer, google_app, 3, message=REVOKED)
    broken_integrations(globex, google_app, 1, message=QUOTA)
    with CaptureQueriesContext(connection) as few:
        admin_client.get(INDEX)
    broken_integrations(customer, google_app, 27, message=REVOKED)
    broken_integrations(globex, google_app, 9, message="Deleted.", status="disconnected")
    broken_integrations(globex, google_app, 4, message="", status="syncing")
    with CaptureQueriesContext(connection) as many:
        admin_client.get(INDEX)

    assert len(many) == len(few)


def test_broken_for_reads_as_a_duration(role_client, customer, google_app):
    broken_integrations(
        customer, google_app, 1, message=REVOKED, broken_for=timedelta(hours=2, minutes=14)
    )
    broken_integrations(customer, google_app, 1, message=QUOTA, broken_for=timedelta(seconds=5))
    broken_integrations(customer, google_app, 1, message=QUOTA, broken_for=timedelta(days=3))

    queue = queue_of(role_client("Support").get(INDEX).content.decode())

    assert ">3 days</time>" in queue
    assert ">2 h 14 min</time>" in queue
    assert ">under a minute</time>" in queue
    assert "0 minutes" not in queue and "0\xa0minutes" not in queue


def test_hostile_text_is_escaped_and_long_messages_are_cut_with_the_whole_text_kept(
    role_client, google_app
):
    evil = Customer.objects.create(name='<img src=x onerror="alert(1)">', external_ref="evil")
    message = "invalid_grant <script>alert(2)</script> " + "w" * 1500
    broken_integrations(evil, google_app, 1, message=message)

    queue = queue_of(role_client("Support").get(INDEX).content.decode())

    assert "<img src=x" not in queue and "<script>alert(2)" not in queue
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;</a> (1)" in queue
    summary = queue[queue.index("<details><summary>") : queue.index("</summary>")]
    assert len(html_lib.unescape(summary.removeprefix("<details><summary>"))) == 160
    whole = message.replace("<", "&lt;").replace(">", "&gt;")
    assert f"</summary>{whole}</details>" in queue
