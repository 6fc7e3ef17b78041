"""A re-consent through a consent link is the account owner's doing, not an admin's: the status
changes it brings and the records of its token say so, naming the account."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from calendars.models import ActionRecord, ConsentLink, Integration, ProblemCount, StatusChange
from calendars.queries import history
from calendars.status import Cause, PortalStatus
from tests.support.consent import token_of

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_owners_reconsent_is_attributed_to_the_owner(
    role_client, person, providers, make_integration, credential
):
    integration = make_integration()
    providers.force(integration.remote_id, status="error", status_message="invalid_grant")
    Integration.objects.filter(pk=integration.pk).update(
        status=PortalStatus.ERROR, error_message="invalid_grant: Token has been expired or revoked."
    )
    ProblemCount.recount()
    made = role_client("Support").post(
        reverse("admin:calendars_consentlink_reconsent", args=[credential.pk])
    )
    url = re.search(r'id="consent-url"[^>]*>([^<]+)<', made.content.decode()).group(1)

    assert person.grant(token_of(url)).status_code == 200

    moved = StatusChange.objects.filter(integration=integration).exclude(cause=Cause.CREATED)
    assert moved and {(c.cause, c.user) for c in moved} == {(Cause.OWNER_CONSENT, None)}
    assert moved.first().to_status == PortalStatus.ACTIVE
    entry = next(e for e in history.integration_timeline(integration) if e.kind == "status")
    assert entry.user == "owner of alice@example.com"
    assert "→ active (Owner's consent)" in entry.summary
    stored = ActionRecord.objects.get(action="replace refresh token", credential=credential)
    assert stored.message == "stored (the account owner's consent); 1 to push"
    link = ConsentLink.objects.get(credential=credential)
    assert link.outcome == ConsentLink.Outcome.RECONSENTED
