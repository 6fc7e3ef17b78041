"""A re-consent link in Debian's chromium, as two people: support makes the link from the
broken integration's page; the account's owner, in a browser with no admin session, opens it,
grants access on the sandbox's fake Google and lands on the success page; the integration is
active again, its timeline says why, and Meeting BaaS received the new credentials.

The portal is the live server, a real django-q2 cluster runs the credential push.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from calendars.actions.integrations import create_integration
from calendars.actions.refresh import refresh_integration
from calendars.models import Credential, Customer, Integration, OAuthApp, RawCalendar
from tests.support.browser import log_in, wait_for_text
from tests.support.consent import point_providers_at
from tests.support.screenshots import Screenshots
from tests.system.test_browser_support_flow import SHOWN_ACTIVE

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def broken(sandbox, settings) -> Integration:
    app = OAuthApp.objects.create(
        provider="google", name="Acme Google", client_id="c.apps", client_secret="GOCSPX-x"
    )
    credential = Credential.objects.create(
        customer=Customer.objects.create(name="Acme Corp"),
        oauth_app=app,
        account_email="alice@example.com",
        refresh_token="1//old:alice@example.com",
    )
    raw = RawCalendar.objects.create(
        credential=credential,
        provider_id="alice@example.com",
        name="Alice",
        listed_at="2026-01-01T00:00Z",
    )
    integration = create_integration(raw).integration
    message = "invalid_grant: Token has been expired or revoked."
    sandbox.force(integration.remote_id, status="error", status_message=message)
    # The connection's own webhooks (created, updated) land first, so that none of them can
    # overwrite the error the refresh then reads.
    sandbox.server.httpd.sender.drain()
    return refresh_integration(integration.pk)


def test_the_owner_reconsents_through_a_link_support_sent(
    portal, browser, sandbox, settings, broken, tmp_path, record_property
):
    point_providers_at(settings, sandbox)
    settings.PORTAL_PUBLIC_URL = portal
    get_user_model().objects.create_user("sam", password="pw")
    call_command("assign_role", "sam", "support")
    shots = Screenshots(tmp_path / "screenshots")
    record_property("screenshots", str(shots.folder))
    integration_page = portal + reverse("admin:calendars_integration_change", args=[broken.pk])

    support = log_in(browser, portal, "sam")
    support.goto(integration_page)
    shots.take(support, "integration-in-error")
    support.click("#fix-create_reconsent_link")
    support.fill("#id_send_to", "alice@example.com")
    support.click("#make-link")
    url = support.input_value("#consent-url")
    shots.take(support, "link-made")
    assert url.startswith(f"{portal}/connect/")

    owner = browser.new_context().new_page()  # no admin session
    owner.set_default_timeout(15_000)
    owner.goto(url)
    shots.take(owner, "link-opened")
    owner.click("#connect-google")
    owner.wait_for_selector("#allow")
    shots.take(owner, "provider-consent")
    owner.fill("#email", "alice@example.com")
    owner.click("#allow")
    owner.wait_for_selector("#consent-done")
    shots.take(owner, "done")

    wait_for_text(support, integration_page, SHOWN_ACTIVE)
    wait_for_text(support, integration_page, "re-consented by the account owner through link")
    shots.take(support, "integration-fixed")
    pushed = sandbox.requests_to("PATCH", f"/v2/calendars/{broken.remote_id}")
    assert pushed, "Meeting BaaS never received the new credentials"
    assert sandbox.connection(broken.remote_id).refresh_token.endswith(":alice@example.com")
    assert sandbox.connection(broken.remote_id).refresh_token != "1//old:alice@example.com"
