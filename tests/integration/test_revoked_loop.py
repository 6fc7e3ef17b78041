"""A connection Meeting BaaS reports revoked (its owner withdrew access at Google): diagnosed as
revoked, offered the re-consent first, and brought back, the same integration, by its owner's
consent. One test per step of the loop, against the live sandbox."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from django.test import TestCase
from django.urls import reverse

from calendars.actions.integrations import disconnect_integration, recreate_integration
from calendars.actions.reconciliation import reconcile_now
from calendars.actions.refresh import refresh_integration
from calendars.meetingbaas import errors
from calendars.models import ActionRecord, BulkJob, Integration, ReconciliationFinding
from calendars.status import PortalStatus
from tests.integration.test_consent_links import make_reconsent
from tests.integration.test_webhook_receiver import updated
from tests.support.consent import reloaded, token_of
from tests.support.webhook_signing import post_v2

pytestmark = pytest.mark.django_db(transaction=True)

CHANGELIST = reverse("admin:calendars_integration_changelist")


@pytest.fixture
def revoked(providers, make_integration) -> Integration:
    """Alice withdrew the app's access at Google; a refresh learned it."""
    integration = make_integration()
    providers.force(
        integration.remote_id, status="revoked", status_message="Access was revoked.", synced=True
    )
    return refresh_integration(integration.pk)


def box_of(client, url: str) -> str:
    page = client.get(url)
    assert page.status_code == 200
    box = re.search(r'<section id="diagnosis".*?</section>', page.content.decode(), re.S)
    assert box, "the page has no diagnosis box"
    return box.group(0)


def buttons(box: str) -> list[str]:
    return [" ".join(b.split()) for b in re.findall(r"<button[^>]*>(.*?)</button>", box, re.S)]


def integration_box(client, integration: Integration) -> str:
    return box_of(client, reverse("admin:calendars_integration_change", args=[integration.pk]))


def test_a_revoked_connection_is_diagnosed_revoked_with_the_reconsent_first(role_client, revoked):
    assert (revoked.status, revoked.remote_status) == (PortalStatus.DISCONNECTED, "revoked")
    assert revoked.is_revoked and revoked.problem_code == "access_revoked"

    box = integration_box(role_client("Support"), revoked)

    assert "Access revoked" in box
    assert "Not found remotely" not in box
    assert buttons(box)[0].startswith("Recommended: Create re-consent link")
    assert buttons(box)[1].startswith("Replace refresh token")
    # Meeting BaaS keeps the connection: a new one would be refused with a 409.
    assert not any("Recreate" in b for b in buttons(box))


def test_the_credential_page_says_its_integration_was_revoked(role_client, revoked, credential):
    box = box_of(
        role_client("Support"), reverse("admin:calendars_credential_change", args=[credential.pk])
    )

    assert "Access revoked" in box
    assert "No integration uses this token" not in box
    assert reverse("admin:calendars_integration_change", args=[revoked.pk]) in box
    assert buttons(box)[0].startswith("Recommended: Create re-consent link")


def test_the_owners_consent_brings_the_same_integration_back(
    role_client, person, revoked, credential, providers
):
    link, url = make_reconsent(role_client("Support"), credential)

    done = person.grant(token_of(url))

    assert b"All set" in done.content
    assert reloaded(link).outcome == "reconsented"
    assert Integration.objects.count() == 1  # nothing recreated
    revoked.refresh_from_db()
    assert revoked.status == PortalStatus.ACTIVE and revoked.remote_status == "active"
    assert not revoked.is_revoked and revoked.problem_code == ""
    [item] = BulkJob.objects.get(kind="push_credentials").items.all()
    assert (item.state, item.status_after) == ("done", "active")
    assert providers.connection(revoked.remote_id).status == "active"


def test_refresh_status_refreshes_a_revoked_connection_not_one_disconnected_on_purpose(
    role_client, revoked, providers, make_integration
):
    on_purpose = make_integration("alice.team@group.calendar.google.com")
    disconnect_integration(on_purpose.pk)
    # The owner's new grant reached Meeting BaaS some other way.
    providers.force(revoked.remote_id, status="active", status_message=None)

    with TestCase.captureOnCommitCallbacks(execute=True):
        answer = role_client("Support").post(
            CHANGELIST,
            {"action": "refresh_status", "_selected_action": [revoked.pk, on_purpose.pk]},
            follow=True,
        )

    said = " ".join(str(m) for m in answer.context["messages"])
    assert "1 disconnected skipped" in said
    # Asked, not done: what the refresh found is the status it moved to.
    assert ActionRecord.objects.get(integration=revoked, action="refresh status").outcome == (
        "queued"
    )
    revoked.refresh_from_db()
    assert revoked.status == PortalStatus.ACTIVE
    on_purpose.refresh_from_db()
    assert on_purpose.status == PortalStatus.DISCONNECTED


def test_recreate_is_refused_before_meeting_baas_is_asked(role_client, revoked, providers):
    with pytest.raises(errors.InvalidRequest, match="re-consent link"):
        recreate_integration(revoked.pk)

    answer = role_client("Admin").post(
        CHANGELIST, {"action": "recreate", "_selected_action": [revoked.pk]}
    )

    assert answer.status_code in (200, 302)
    assert not BulkJob.objects.exists()
    assert not providers.requests_to("POST", "/v2/calendars")[1:]  # only make_integration's


def test_a_reconciliation_follows_the_revived_connection_instead_of_an_orphan(revoked, providers):
    providers.force(revoked.remote_id, status="active", status_message=None)

    reconcile_now()

    assert not ReconciliationFinding.objects.filter(kind="orphan").exists()
    revoked.refresh_from_db()
    assert revoked.status == PortalStatus.ACTIVE


def test_a_connection_deleted_while_revoked_is_gone_and_can_be_recreated(revoked, providers):
    providers.state.delete(providers.connection(revoked.remote_id))

    refresh_integration(revoked.pk)

    revoked.refresh_from_db()
    assert revoked.status == PortalStatus.DISCONNECTED and not revoked.is_reachable
    assert revoked.problem_code == "not_found"
    recreated = recreate_integration(revoked.pk)
    assert recreated.pk != revoked.pk and recreated.is_live


def test_the_worklist_groups_it_as_revoked_with_the_reconsent(role_client, revoked):
    page = role_client("Support").get(reverse("admin:index")).content.decode()

    lane = re.search(r"Access revoked.*?</(?:section|table|details)>", page, re.S)
    assert lane, "no lane for revoked access on the home page"
    assert "re-consent" in lane.group(0).lower()
    assert "Not found remotely" not in page


def test_a_webhook_saying_it_is_active_again_brings_it_back(client, revoked, providers):
    forced = providers.force(revoked.remote_id, status="active", status_message=None)

    post_v2(client, updated(revoked, "active", datetime.fromisoformat(forced["updated_at"])))

    revoked.refresh_from_db()
    assert revoked.status == PortalStatus.ACTIVE
    assert revoked.status_changes.first().cause == "webhook"
