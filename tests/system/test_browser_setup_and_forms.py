"""Set-up and forms in Debian's chromium at 1440 px: the OAuth app's add form shows only the
chosen provider's fields and gives the redirect URI to copy; a superuser gives a new user a
role; support is warned that a loopback link cannot reach the customer, and revokes a link
after a confirmation; the customer who cancels at the provider tries again, and reloading the
success page says it is already done."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from calendars.models import ConsentLink
from tests.conftest import require_service
from tests.support.browser import CHROMIUM, log_in
from tests.support.screenshots import Screenshots

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def site(live_server, monkeypatch, settings) -> str:
    require_service(
        CHROMIUM.exists(), "Debian's chromium is not installed (apt-get install chromium)"
    )
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # the ORM runs beside Playwright
    return live_server.url


@pytest.fixture
def shots(tmp_path, record_property) -> Screenshots:
    taken = Screenshots(tmp_path / "screenshots")
    record_property("screenshots", str(taken.folder))
    return taken


def person_with_role(username: str, role: str) -> None:
    get_user_model().objects.create_user(username, password="pw")
    call_command("assign_role", username, role)


def wide(browser, url: str, username: str, **context: object):
    """Signed in as `username`, 1440 px wide (log_in opens its page in this context)."""
    return log_in(
        browser.new_context(viewport={"width": 1440, "height": 900}, **context), url, username
    )


def visible(page, label: str) -> bool:
    return page.get_by_text(label, exact=True).is_visible()


def test_the_oauth_app_form_shows_the_chosen_providers_fields_and_the_redirect_uri(
    site, browser, settings, shots
):
    settings.PORTAL_PUBLIC_URL = "https://portal.example.com"
    person_with_role("ada", "Admin")
    page = wide(browser, site, "ada", permissions=["clipboard-read", "clipboard-write"])
    refused = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)

    page.goto(site + reverse("admin:calendars_oauthapp_add"))
    assert not visible(page, "Client secret expires on:")
    assert not visible(page, "Google publishing status:")
    page.select_option("#id_provider", "google")
    shots.take(page, "add-google")
    assert visible(page, "Google publishing status:")
    assert not visible(page, "Client secret expires on:") and not visible(page, "Microsoft tenant:")
    page.select_option("#id_provider", "microsoft")
    shots.take(page, "add-microsoft")
    assert visible(page, "Client secret expires on:") and visible(page, "Microsoft tenant:")
    assert not visible(page, "Google publishing status:")

    page.click("#copy-summary")
    page.wait_for_selector("#copy-summary-status:has-text('Copied.')")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == "https://portal.example.com/connect/callback/"
    assert refused == []
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_superuser_gives_a_new_user_a_role(site, browser, shots):
    get_user_model().objects.create_superuser("root", password="pw")
    page = wide(browser, site, "root")

    page.goto(site + reverse("admin:auth_user_add"))
    page.fill("#id_username", "newcomer")
    page.fill("#id_password1", "a-long-enough-passphrase")
    page.fill("#id_password2", "a-long-enough-passphrase")
    page.select_option("#id_role", "Support")
    shots.take(page, "add-user")
    page.click("input[name=_save]")
    page.wait_for_selector("#id_role")
    shots.take(page, "user-page")

    assert page.input_value("#id_role") == "Support"
    assert not page.locator("#id_groups_from, #id_groups").count()
    changelist = site + reverse("admin:auth_user_changelist")
    page.goto(changelist)
    assert (
        page.locator("tr", has_text="newcomer").locator("td.field-role").inner_text() == "Support"
    )


def test_a_customer_cancels_tries_again_and_reloads_the_success_page(
    site, browser, providers, settings, credential, shots
):
    settings.PORTAL_PUBLIC_URL = site  # 127.0.0.1: the link page must warn
    person_with_role("sam", "Support")
    support = wide(browser, site, "sam")
    support.goto(site + reverse("admin:calendars_consentlink_reconsent", args=[credential.pk]))
    support.click("#make-link")
    shots.take(support, "link-made")
    assert "the customer cannot open them from theirs" in support.inner_text(".messagelist")
    url = support.input_value("#consent-url")

    owner = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    owner.set_default_timeout(15_000)
    owner.goto(url)
    owner.click("#connect-google")
    owner.click("#cancel")
    owner.wait_for_selector("#try-again")
    shots.take(owner, "cancelled")
    owner.click("#try-again")
    owner.fill("#email", "alice@example.com")
    owner.click("#allow")
    owner.wait_for_selector("#consent-done")
    shots.take(owner, "done")
    owner.reload()
    owner.wait_for_selector("#consent-done")
    shots.take(owner, "done-reloaded")

    assert owner.inner_text("#consent-done") == "Already done"
    assert "nothing more to do" in owner.inner_text("main")
    assert ConsentLink.objects.get().outcome == "reconsented"


def test_support_revokes_a_link_after_a_confirmation(site, browser, credential, settings, shots):
    settings.PORTAL_PUBLIC_URL = "https://portal.example.com"
    person_with_role("sam", "Support")
    support = wide(browser, site, "sam")
    support.goto(site + reverse("admin:calendars_consentlink_reconsent", args=[credential.pk]))
    support.click("#make-link")
    changelist = site + reverse("admin:calendars_consentlink_changelist")

    support.goto(changelist)
    support.locator("tr", has_text="alice@example.com").locator("input.action-select").check()
    support.select_option("select[name=action]", "revoke_links")
    support.click("button[name=index]")
    support.wait_for_selector("#confirm-revoke")
    shots.take(support, "confirm-revoke")
    assert ConsentLink.objects.get().is_usable
    support.click("#confirm-revoke")
    support.wait_for_selector(".messagelist")
    shots.take(support, "revoked")

    assert "1 link revoked" in support.inner_text(".messagelist")
    outcome = support.locator("td.field-outcome_label").inner_text()
    assert outcome.startswith("Revoked by sam ")
