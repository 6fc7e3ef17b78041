"""Revoking consent links asks first and says what it did; a revoked link's outcome says who
revoked it and when, not that it waits for the customer."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from calendars.consent import links
from calendars.models import ConsentLink
from tests.support.consent import reloaded

LIST = reverse("admin:calendars_consentlink_changelist")


def revoke(client, *selected: ConsentLink, confirm: bool):
    form = {"action": "revoke_links", "_selected_action": [item.pk for item in selected]}
    return client.post(LIST, form | ({"confirm": "1"} if confirm else {}), follow=confirm)


def test_revoking_asks_for_confirmation_first_and_changes_nothing_until_then(
    role_client, credential
):
    link = links.create_reconsent_link(credential, acting_user=None).link

    page = revoke(role_client("Support"), link, confirm=False)

    html = page.content.decode()
    assert page.status_code == 200 and "Revoke consent links?" in html
    assert str(link) in html and 'id="confirm-revoke"' in html and "cannot be undone" in html
    assert reloaded(link).is_usable


def test_confirmed_revocation_says_it_was_done_and_the_outcome_names_who_and_when(
    role_client, credential, settings
):
    settings.TIME_ZONE = "Pacific/Auckland"  # shown in the portal's zone, never UTC's time
    link = links.create_reconsent_link(credential, acting_user=None).link
    client = role_client("Support")

    done = revoke(client, link, confirm=True)

    assert f"1 link revoked: {link}." in done.content.decode()
    link = reloaded(link)
    assert link.state == "revoked" and link.revoked_by.username == "support-user"
    when = timezone.localtime(link.revoked_at).strftime("%Y-%m-%d %H:%M %Z")
    listed = client.get(LIST).content.decode()
    page = client.get(reverse("admin:calendars_consentlink_change", args=[link.pk]))
    for html in (listed, page.content.decode()):
        assert f"Revoked by support-user {when}" in html
        assert "Waiting for the customer" not in html.split('id="changelist-filter"')[0]
    # Nor does the outcome filter offer "waiting", which revoked links would match.
    by_outcome = listed.split("By outcome")[1].split("By created at")[0]
    assert "Provider error" in by_outcome and "Waiting for the customer" not in by_outcome


def test_a_link_already_used_is_listed_as_left_unchanged(role_client, credential):
    link = links.create_reconsent_link(credential, acting_user=None).link
    ConsentLink.objects.filter(pk=link.pk).update(used_at=timezone.now())
    client = role_client("Support")

    page = revoke(client, link, confirm=False).content.decode()
    done = revoke(client, link, confirm=True).content.decode()

    assert "Already used or revoked" in page and 'id="confirm-revoke"' not in page
    assert "0 links revoked. 1 already used or revoked: unchanged." in done


def test_a_link_that_expired_unused_says_so(role_client, credential):
    link = links.create_reconsent_link(credential, acting_user=None).link
    ConsentLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(1))

    listed = role_client("Auditor").get(LIST).content.decode()

    assert '<td class="field-outcome_label">Expired unused</td>' in listed
