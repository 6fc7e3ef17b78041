"""The needs-attention worklist: its total, groups by cause and customer, and "see all"."""

from __future__ import annotations

import html as html_lib
import re
from datetime import timedelta
from urllib.parse import unquote

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from calendars.admin import big_lists
from calendars.models import Customer, Integration, ProblemCount
from calendars.queries import dashboard
from tests.support.broken_rows import broken_integrations

INDEX = reverse("admin:index")
CHANGELIST = reverse("admin:calendars_integration_changelist")
CREDENTIALS = reverse("admin:calendars_credential_changelist")
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
    assert "use &quot;Replace refresh token&quot; on the credential" in queue


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


def fix_buttons(html: str) -> list[tuple[str, str]]:
    """Each fix button's (selected credential id, label), in order."""
    return re.findall(
        r'name="_selected_action" value="(\d+)">\s*<button[^>]*>(.*?)</button>', html, re.S
    )


def test_a_group_fixed_on_its_credentials_has_the_fix_one_click_away(
    role_client, customer, globex, google_app
):
    revoked = broken_integrations(customer, google_app, 4, message=REVOKED)
    broken_integrations(globex, google_app, 1, message=QUOTA)
    # The third account's token breaks three integrations: its button comes first.
    most = revoked[2].credential
    Integration.objects.filter(pk__in=[revoked[0].pk, revoked[1].pk]).update(credential=most)
    ProblemCount.recount()  # written around the portal, which never moves an integration
    others = [revoked[3].credential]
    client = role_client("Support")

    queue = queue_of(client.get(INDEX).content.decode())

    group = queue[queue.index("Refresh token refused") : queue.index("Rate limited")]
    assert fix_buttons(group) == [
        (str(most.pk), f"Replace refresh token ({most.account_email})"),
        (str(others[0].pk), f"Replace refresh token ({others[0].account_email})"),
    ]
    assert f'<form method="post" action="{CREDENTIALS}">' in group
    assert "more credential" not in group
    # The transient group is fixed by a resync, on the integrations list: no button here.
    assert fix_buttons(queue[queue.index("Rate limited") :]) == []
    # The button opens the action's own confirmation, as selecting the credential in its list.
    confirmation = client.post(
        CREDENTIALS, {"action": "replace_refresh_token", "_selected_action": most.pk}
    )
    assert f"Replace the refresh token of {most.account_email}" in confirmation.content.decode()


def test_beyond_three_credentials_the_rest_are_one_link_away(
    role_client, customer, google_app, monkeypatch
):
    revoked = broken_integrations(customer, google_app, 5, message=REVOKED)
    ids = sorted(i.credential_id for i in revoked)
    client = role_client("Support")

    queue = queue_of(client.get(INDEX).content.decode())

    assert [pk for pk, _ in fix_buttons(queue)] == [str(pk) for pk in ids[:3]]
    link = re.search(r'and <a href="([^"]+)">2 more credentials</a>', queue)
    assert link, queue
    url = link.group(1).replace("&amp;", "&")
    assert unquote(url) == f"{CREDENTIALS}?id__in={','.join(map(str, ids))}"
    listed = client.get(url).content.decode()
    assert all(i.credential.account_email in listed for i in revoked)
    # Past what a link can carry, the rest are counted, their integrations in the group's list.
    monkeypatch.setattr(dashboard, "CREDENTIALS_LISTED", 4)
    queue = queue_of(client.get(INDEX).content.decode())
    assert len(fix_buttons(queue)) == 3
    assert "and 2 more credentials</small>" in queue


def test_an_auditor_sees_the_groups_without_fix_buttons(role_client, customer, google_app):
    broken_integrations(customer, google_app, 2, message=REVOKED)

    queue = queue_of(role_client("Auditor").get(INDEX).content.decode())

    assert "<strong>Refresh token refused or revoked</strong>: 2 integrations" in queue
    assert fix_buttons(queue) == []


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


# What the home page costs with integrations in the worklist's stored causes and kinds that
# depend on the time: one query per lane, not per cause, kind or rule (it took 50). Four lanes
# are one count each: refreshes lost with a stopped worker, owners who did not answer, meetings
# missed yesterday, tomorrow's bots against the plan's daily cap (the 24th; the connection cap
# is read from the status bars' counts, no query of its own).
HOME_PAGE_QUERIES = 24


def test_the_home_page_costs_one_query_per_lane(admin_client, customer, globex, google_app):
    broken_integrations(customer, google_app, 3, message=REVOKED)
    broken_integrations(globex, google_app, 1, message=QUOTA)
    broken_integrations(globex, google_app, 2, message="Deleted.", status="disconnected")
    broken_integrations(globex, google_app, 2, message="", status="syncing")
    admin_client.get(INDEX)  # caches (content types, session) filled before counting

    with CaptureQueriesContext(connection) as queries:
        page = admin_client.get(INDEX).content.decode()

    assert "Needs attention: 8 integrations" in page
    assert len(queries) == HOME_PAGE_QUERIES, [q["sql"][:100] for q in queries.captured_queries]


@pytest.mark.clock
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


@pytest.mark.clock
def test_a_kind_that_depends_on_the_time_says_more_than_past_what_it_reads(
    role_client, customer, globex, google_app, monkeypatch
):
    broken_integrations(customer, google_app, 2, message="", status="syncing")
    broken_integrations(globex, google_app, 1, message="", status="syncing")
    broken_integrations(customer, google_app, 1, message=REVOKED)
    monkeypatch.setattr(dashboard, "TIMED_ROWS", 2)

    queue = queue_of(role_client("Support").get(INDEX).content.decode())

    assert "Needs attention: more than 3 integrations" in queue
    assert (
        "<strong>Stuck in syncing</strong>: more than 2 integrations; "
        "the 2 longest-standing: 1 customer" in queue
    )
    # Counted as they happen, errors stay exact.
    assert "<strong>Refresh token refused or revoked</strong>: 1 integration, 1 customer" in queue


def test_a_list_filtered_by_a_problem_counts_up_to_a_bound(
    admin_client, customer, google_app, monkeypatch
):
    broken_integrations(customer, google_app, 3, message=REVOKED)
    monkeypatch.setattr(big_lists, "COUNTED_UP_TO", 2)

    bounded = admin_client.get(f"{CHANGELIST}?problem=token_refused").context["cl"]
    monkeypatch.setattr(big_lists, "COUNTED_UP_TO", 3)
    exact = admin_client.get(f"{CHANGELIST}?problem=token_refused").context["cl"]

    assert str(bounded.result_count) == "more than 2"
    assert len(bounded.result_list) == 3
    assert exact.result_count == 3 and str(exact.result_count) == "3"
