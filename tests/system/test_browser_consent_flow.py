"""Re-consent links in Debian's chromium, as two people: support makes the link from the broken
integration's page; the account's owner, in a browser with no admin session, opens it, grants
access on the sandbox's fake Google and lands on the success page; the integration is active
again, and Meeting BaaS received the new credentials. Once for a refused token, once for a
connection Meeting BaaS paused as revoked (the same integration comes back).

The portal is the live server, a real django-q2 cluster runs the credential push.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from calendars.models import BulkJob, Integration
from tests.support.browser import log_in, wait_for_text
from tests.support.consent import alices_integration, point_providers_at
from tests.support.screenshots import Screenshots
from tests.system.test_browser_support_flow import SHOWN_ACTIVE

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@dataclass
class Scene:
    portal: str
    browser: object
    support: object  # sam's page, logged in with the Support role
    shots: Screenshots

    def integration_page(self, integration: Integration) -> str:
        return self.portal + reverse("admin:calendars_integration_change", args=[integration.pk])

    def make_link(self) -> str:
        """From the integration's page: the re-consent link, to be sent to Alice."""
        self.support.click("#fix-create_reconsent_link")
        self.support.fill("#id_send_to", "alice@example.com")
        self.support.click("#make-link")
        url = self.support.input_value("#consent-url")
        self.shots.take(self.support, "link-made")
        assert url.startswith(f"{self.portal}/connect/")
        return url

    def owner_grants(self, url: str) -> None:
        owner = self.browser.new_context().new_page()  # no admin session
        owner.set_default_timeout(15_000)
        owner.goto(url)
        self.shots.take(owner, "link-opened")
        owner.click("#connect-google")
        owner.wait_for_selector("#allow")
        self.shots.take(owner, "provider-consent")
        owner.fill("#email", "alice@example.com")
        owner.click("#allow")
        owner.wait_for_selector("#consent-done")
        self.shots.take(owner, "done")


@pytest.fixture
def scene(portal, browser, sandbox, settings, tmp_path, record_property) -> Scene:
    point_providers_at(settings, sandbox)
    settings.PORTAL_PUBLIC_URL = portal
    get_user_model().objects.create_user("sam", password="pw")
    call_command("assign_role", "sam", "support")
    shots = Screenshots(tmp_path / "screenshots")
    record_property("screenshots", str(shots.folder))
    return Scene(portal, browser, log_in(browser, portal, "sam"), shots)


def test_the_owner_reconsents_through_a_link_support_sent(scene, sandbox):
    broken = alices_integration(
        sandbox, status="error", status_message="invalid_grant: Token has been expired or revoked."
    )
    page = scene.integration_page(broken)
    scene.support.goto(page)
    scene.shots.take(scene.support, "integration-in-error")

    scene.owner_grants(scene.make_link())

    wait_for_text(scene.support, page, SHOWN_ACTIVE)
    wait_for_text(scene.support, page, "re-consented by the account owner through link")
    scene.shots.take(scene.support, "integration-fixed")
    pushed = sandbox.requests_to("PATCH", f"/v2/calendars/{broken.remote_id}")
    assert pushed, "Meeting BaaS never received the new credentials"
    assert sandbox.connection(broken.remote_id).refresh_token.endswith(":alice@example.com")
    assert sandbox.connection(broken.remote_id).refresh_token != "1//old:alice@example.com"


def test_the_owners_consent_brings_a_revoked_calendar_back(scene, sandbox):
    revoked = alices_integration(
        sandbox, status="revoked", status_message="Access was revoked.", synced=True
    )
    page = scene.integration_page(revoked)
    scene.support.goto(page)
    scene.shots.take(scene.support, "revoked")
    box = scene.support.locator("#diagnosis").inner_text()
    assert "Access revoked" in box and "Not found remotely" not in box
    assert "Recreate" not in box
    assert "Recommended" in scene.support.locator("#fix-create_reconsent_link").inner_text()

    scene.owner_grants(scene.make_link())

    wait_for_text(scene.support, page, SHOWN_ACTIVE)
    scene.shots.take(scene.support, "active-again")
    assert Integration.objects.count() == 1  # the same integration, not a new one
    job = BulkJob.objects.get(kind="push_credentials")
    wait_for_text(
        scene.support,
        scene.portal + reverse("admin:calendars_bulkjob_change", args=[job.pk]),
        "1 fixed.",
    )
    scene.support.goto(page)
    assert "Access revoked" not in scene.support.locator("#diagnosis").inner_text()
