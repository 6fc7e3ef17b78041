"""A credential whose last token check failed needs attention, with or without integrations."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from urllib.parse import unquote

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from calendars.models import Credential, Customer, OAuthApp
from tests.support.broken_rows import broken_integrations

INDEX = reverse("admin:index")
CREDENTIALS = reverse("admin:calendars_credential_changelist")
REVOKED = "invalid_grant: Token has been expired or revoked."
REVOKED_GROUP = "<strong>Refresh token check failed (Refresh token refused or revoked)</strong>"


def failed_checks(
    customer: Customer,
    app: OAuthApp,
    count: int,
    *,
    message: str = REVOKED,
    checked: timedelta = timedelta(hours=1),
) -> list[Credential]:
    """`count` credentials of `customer` whose token check failed `checked` ago."""
    credentials = []
    for _ in range(count):
        email = f"{uuid.uuid4().hex[:10]}@{customer.external_ref or 'example'}.com"
        credentials.append(
            Credential.objects.create(
                customer=customer,
                oauth_app=app,
                account_email=email,
                refresh_token=f"rt:{email}",
                last_check_ok=False,
                last_checked_at=timezone.now() - checked,
                last_check_message=message,
            )
        )
    return credentials


def worklist_of(page: str) -> str:
    return page[page.index('id="needs-attention"') : page.index("Recent activity")]


def fix_forms(html: str) -> list[tuple[str, str, str]]:
    """Each fix button's (action, selected id, label)."""
    forms = re.findall(r'<form method="post" action="[^"]*">.*?</form>', html, re.S)
    found = []
    for form in forms:
        action = re.search(r'name="action" value="([^"]+)"', form).group(1)
        selected = re.search(r'name="_selected_action" value="([^"]+)"', form).group(1)
        label = re.search(r"<button[^>]*>(.*?)</button>", form, re.S).group(1)
        found.append((action, selected, label))
    return found


def test_a_refused_token_saved_without_integrations_needs_attention(
    role_client, sandbox, customer, google_app
):
    role_client("Admin").post(
        reverse("admin:calendars_credential_add"),
        {
            "customer": customer.pk,
            "oauth_app": google_app.pk,
            "account_email": "alice@example.com",
            "refresh_token": "revoked:alice@example.com",
        },
    )
    credential = Credential.objects.get()
    assert credential.last_check_ok is False and not credential.integrations.exists()

    queue = worklist_of(role_client("Support").get(INDEX).content.decode())

    assert "Needs attention: 1 credential<" in queue
    assert f"{REVOKED_GROUP}: 1 credential, 1 customer" in queue
    row = re.search(
        r"<tr>\s*<td><a href=\"([^\"]+)\">Credential alice@example.com.*?</tr>", queue, re.S
    )
    assert row, "the credential is not in the queue"
    assert row.group(1) == reverse("admin:calendars_credential_change", args=[credential.pk])
    assert "refresh token check failed" in row.group(0)
    assert "<strong>Refresh token refused or revoked</strong>" in row.group(0)
    assert "invalid_grant: Token has been expired or revoked." in row.group(0)
    assert "The 1 longest broken." in queue


def test_the_group_links_to_exactly_its_credentials_where_the_fix_is(
    role_client, customer, google_app
):
    globex = Customer.objects.create(name="Globex", external_ref="globex")
    revoked = failed_checks(customer, google_app, 2) + failed_checks(globex, google_app, 1)
    other = failed_checks(customer, google_app, 1, message="Something odd happened")
    client = role_client("Support")
    queue = worklist_of(client.get(INDEX).content.decode())

    link = re.search(rf'<a href="([^"]+)">{re.escape(REVOKED_GROUP)}: 3 credentials', queue)
    assert link, queue
    url = link.group(1).replace("&amp;", "&")
    assert unquote(url) == f"{CREDENTIALS}?id__in={','.join(str(c.pk) for c in revoked)}"
    listed = client.get(url).content.decode()
    assert all(c.account_email in listed for c in revoked)
    assert other[0].account_email not in listed
    assert '<option value="replace_refresh_token">' in listed
    # Each customer named links to its own failed checks.
    globex_link = re.search(r'<a href="([^"]+)">Globex</a> \(1\)', queue)
    assert globex_link, queue
    globex_list = client.get(globex_link.group(1).replace("&amp;", "&")).content.decode()
    assert revoked[2].account_email in globex_list
    assert revoked[0].account_email not in globex_list
    # A message the diagnosis does not recognise has a group of its own, and a way to go on.
    assert "<strong>Refresh token check failed</strong>: 1 credential, 1 customer" in queue
    assert "&quot;List raw calendars&quot; checks the refresh token again" in queue


def test_the_fix_is_one_click_from_the_group_for_roles_that_may_run_it(
    role_client, customer, google_app
):
    (credential,) = failed_checks(customer, google_app, 1)
    support = role_client("Support")

    queue = worklist_of(support.get(INDEX).content.decode())
    forms = fix_forms(queue)
    assert forms == [
        (
            "replace_refresh_token",
            str(credential.pk),
            f"Replace refresh token ({credential.account_email})",
        )
    ]
    confirmation = support.post(
        CREDENTIALS, {"action": forms[0][0], "_selected_action": forms[0][1]}
    )
    assert confirmation.status_code == 200
    assert f"Replace the refresh token of {credential.account_email}" in (
        confirmation.content.decode()
    )
    # An auditor reads the same group, without a button.
    auditor_queue = worklist_of(role_client("Auditor").get(INDEX).content.decode())
    assert f"{REVOKED_GROUP}: 1 credential" in auditor_queue
    assert fix_forms(auditor_queue) == []


def test_replacing_the_token_takes_the_credential_off(role_client, sandbox, credential):
    support = role_client("Support")
    Credential.objects.filter(pk=credential.pk).update(
        last_check_ok=False, last_checked_at=timezone.now(), last_check_message=REVOKED
    )
    assert REVOKED_GROUP in support.get(INDEX).content.decode()

    support.post(
        CREDENTIALS,
        {
            "action": "replace_refresh_token",
            "_selected_action": credential.pk,
            "apply": "1",
            "refresh_token": "1//fresh:alice@example.com",
        },
    )

    assert "Nothing needs attention." in support.get(INDEX).content.decode()


def test_a_passing_check_takes_the_credential_off(role_client, sandbox, credential):
    support = role_client("Support")
    Credential.objects.filter(pk=credential.pk).update(refresh_token="revoked:alice@example.com")
    support.post(CREDENTIALS, {"action": "list_raw_calendars", "_selected_action": credential.pk})
    assert REVOKED_GROUP in support.get(INDEX).content.decode()
    # The customer's access is back (say, a Google app out of "Testing"): the token works again.
    Credential.objects.filter(pk=credential.pk).update(refresh_token="1//refresh:alice@example.com")

    support.post(CREDENTIALS, {"action": "list_raw_calendars", "_selected_action": credential.pk})

    credential.refresh_from_db()
    assert credential.last_check_ok is True
    assert "Nothing needs attention." in support.get(INDEX).content.decode()


def test_counted_with_the_integrations_and_listed_by_how_long_it_is_broken(
    role_client, customer, google_app
):
    broken_integrations(customer, google_app, 2, message="Calendar API quota exceeded")
    (credential,) = failed_checks(customer, google_app, 1, checked=timedelta(days=3))

    queue = worklist_of(role_client("Support").get(INDEX).content.decode())

    assert "Needs attention: 2 integrations and 1 credential<" in queue
    assert "The 3 longest broken." in queue
    assert "See all 2 in the integrations list" in queue
    assert f'<a href="{CREDENTIALS}?last_check_ok__exact=0">' in queue
    # Broken for three days, the longest: it heads the queue.
    rows = re.findall(r"<tr>.*?</tr>", queue[queue.index("<tbody>") :], re.S)
    assert f"Credential {credential.account_email}" in rows[0]
    assert ">3 days</time>" in rows[0]


def test_a_credential_with_an_integration_in_error_is_listed_once_through_it(
    role_client, customer, google_app
):
    (integration,) = broken_integrations(customer, google_app, 1, message=REVOKED)
    credential = integration.credential
    Credential.objects.filter(pk=credential.pk).update(
        last_check_ok=False, last_checked_at=timezone.now(), last_check_message=REVOKED
    )
    client = role_client("Support")

    queue = worklist_of(client.get(INDEX).content.decode())

    assert "Needs attention: 1 integration<" in queue
    assert "Refresh token check failed" not in queue
    # The integration's group carries the credential's fix.
    assert fix_forms(queue) == [
        (
            "replace_refresh_token",
            str(credential.pk),
            f"Replace refresh token ({credential.account_email})",
        )
    ]
    # Once the integration is no longer in error, the credential's failed check shows by itself.
    integration.status = "active"
    integration.save()
    queue = worklist_of(client.get(INDEX).content.decode())
    assert "Needs attention: 1 credential<" in queue
    assert f"{REVOKED_GROUP}: 1 credential" in queue


def test_the_home_page_costs_the_same_queries_with_twenty_times_the_failed_checks(
    admin_client, customer, google_app
):
    globex = Customer.objects.create(name="Globex", external_ref="globex")
    failed_checks(customer, google_app, 1)
    broken_integrations(customer, google_app, 1, message=REVOKED)
    with CaptureQueriesContext(connection) as one:
        page = admin_client.get(INDEX).content.decode()
    assert "Needs attention: 1 integration and 1 credential<" in page
    failed_checks(customer, google_app, 12)
    failed_checks(globex, google_app, 7)
    broken_integrations(globex, google_app, 19, message=REVOKED)
    with CaptureQueriesContext(connection) as twenty:
        page = admin_client.get(INDEX).content.decode()
    assert "Needs attention: 20 integrations and 20 credentials<" in page

    assert len(twenty) == len(one)
