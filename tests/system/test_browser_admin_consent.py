"""Microsoft admin consent in Debian's chromium, as two people of a customer whose Microsoft
tenant lets no user consent alone: the person opens their connect link and is refused at the
sandbox's Microsoft; the portal's page hands them a link for their IT administrator, who opens
it in a browser of their own and approves at Microsoft's admin consent page; the person's
"Try again" then connects their calendar.
"""

from __future__ import annotations

import pytest

from calendars.consent import links
from calendars.models import ConsentLink, Credential, Customer, OAuthApp
from sandbox.oauth import HOME_TENANT
from tests.support.consent import point_providers_at
from tests.support.screenshots import Screenshots

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_tenant_requiring_admin_consent_from_refusal_to_approval_to_success(
    portal, browser, sandbox, settings, tmp_path, record_property
):
    point_providers_at(settings, sandbox)
    settings.PORTAL_PUBLIC_URL = portal
    shots = Screenshots(tmp_path / "screenshots")
    record_property("screenshots", str(shots.folder))
    sandbox.control("POST", f"tenants/{HOME_TENANT}", {"admin_consent_required": True})
    customer = Customer.objects.create(name="Contoso Ltd")
    app = OAuthApp.objects.create(
        provider="microsoft", name="Entra", client_id="c-1", client_secret="s-1"
    )
    url = links.create_connect_link(
        customer, [app], create_integrations="none", acting_user=None
    ).url

    person = browser.new_context().new_page()
    person.set_default_timeout(15_000)
    person.goto(url)
    person.click("#connect-microsoft")
    person.fill("#email", "carol@contoso.example")
    person.click("#allow")
    person.wait_for_selector("#consent-needs-admin")
    shots.take(person, "refused")
    admin_url = person.input_value("#admin-consent-url")
    assert admin_url.startswith(f"{portal}/connect/")

    administrator = browser.new_context().new_page()
    administrator.set_default_timeout(15_000)
    administrator.goto(admin_url)
    shots.take(administrator, "admin-consent-page")
    text = administrator.locator("main").inner_text()
    assert "Approve calendar access for your organisation" in text and "Contoso Ltd" in text
    administrator.click("#connect-microsoft")
    administrator.click("#allow")  # Microsoft's "Accept", for the organisation
    administrator.wait_for_selector("#consent-done")
    shots.take(administrator, "approved")
    assert "Approved" in administrator.locator("h1").inner_text()

    person.click("#try-again")
    person.fill("#email", "carol@contoso.example")
    person.click("#allow")
    person.wait_for_selector("#consent-done")
    shots.take(person, "connected")
    assert "All set" in person.locator("h1").inner_text()
    assert Credential.objects.get(customer=customer).account_email == "carol@contoso.example"
    assert ConsentLink.objects.get(kind="connect").outcome == "connected"
    assert ConsentLink.objects.get(kind="admin").outcome == "admin_approved"
