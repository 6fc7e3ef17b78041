"""Automatic re-consent outreach in Debian's chromium, with nobody from support involved: Meeting
BaaS reports the grant revoked (its webhook, processed by a real cluster); the outreach run
e-mails the account's owner through a real SMTP server; the owner clicks the link in the e-mail,
grants access on the sandbox's fake Google, and the same integration is active again.

The periodic schedule runs the outreach every minute; here the test runs it where the
scheduler would, so as not to wait for the minute.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model

from calendars import tasks
from calendars.models import (
    ActionRecord,
    ConsentLink,
    Customer,
    Integration,
    Outreach,
    OutreachMessage,
)
from calendars.status import PortalStatus
from tests.support.consent import alices_integration, point_providers_at
from tests.support.screenshots import Screenshots
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_revoked_grant_is_fixed_by_its_owner_from_the_portals_email(
    portal, browser, sandbox, smtp, settings, tmp_path, record_property
):
    point_providers_at(settings, sandbox)
    settings.PORTAL_PUBLIC_URL = portal
    settings.PORTAL_COMPANY_NAME = "Notetakers Ltd"
    settings.PORTAL_SUPPORT_EMAIL = "help@notetakers.example"
    shots = Screenshots(tmp_path / "screenshots")
    record_property("screenshots", str(shots.folder))
    integration = alices_integration(sandbox, status="active", synced=True)
    Customer.objects.update(outreach=Customer.Outreach.AUTOMATIC)

    sandbox.force(integration.remote_id, status="revoked", status_message="Access was revoked.")
    assert wait_until(
        lambda: Integration.objects.get(pk=integration.pk).problem_code == "access_revoked", 30
    ), "the webhook never told the portal of the revocation"
    tasks.run_outreach()

    (message,) = smtp.inbox.messages
    assert message["To"] == "alice@example.com"
    text = smtp.inbox.text(message)
    assert "the access you gave us to your calendar was withdrawn at Google" in text
    url = re.search(rf"{re.escape(portal)}/connect/[^/\s]+/", text).group(0)
    owner = browser.new_context().new_page()  # the owner's own browser: no admin session
    owner.set_default_timeout(15_000)
    owner.set_content(message.get_body(preferencelist=("html",)).get_content())
    shots.take(owner, "email")
    owner.click("text=Grant calendar access again")
    owner.wait_for_url(url)
    owner.click("#connect-google")
    owner.wait_for_selector("#allow")
    owner.fill("#email", "alice@example.com")
    owner.click("#allow")
    owner.wait_for_selector("#consent-done")
    shots.take(owner, "done")

    assert wait_until(
        lambda: Integration.objects.get(pk=integration.pk).status == PortalStatus.ACTIVE, 30
    ), "the integration did not come back"
    assert "1 resolved" in tasks.run_outreach()
    assert Integration.objects.count() == 1  # the same integration, not a new one
    assert Outreach.objects.get().state == Outreach.State.RESOLVED
    assert OutreachMessage.objects.get().link.outcome == "reconsented"
    # No person acted: nobody is logged in, and no action or link names a user.
    assert not ActionRecord.objects.filter(user__isnull=False).exists()
    assert not ConsentLink.objects.filter(created_by__isnull=False).exists()
    assert not get_user_model().objects.exists()
    assert len(smtp.inbox.messages) == 1
