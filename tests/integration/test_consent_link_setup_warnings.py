"""The link pages warn when a link made with this configuration would fail or mislead the
customer: a loopback public address, the default company name, no contact address. The pages
the customer sees give the contact address when there is one."""

from __future__ import annotations

import pytest
from django.urls import reverse

from calendars.admin.consent import is_loopback
from calendars.consent import links, mail
from tests.support.consent import token_of

LOOPBACK = "an address of this machine only"
UNNAMED = "set PORTAL_COMPANY_NAME"
NO_CONTACT = "set PORTAL_CONTACT_EMAIL"


def reconsent_pages(client, credential) -> tuple[str, str]:
    url = reverse("admin:calendars_consentlink_reconsent", args=[credential.pk])
    return client.get(url).content.decode(), client.post(url).content.decode()


@pytest.mark.parametrize(
    "public_url", ["http://127.0.0.1:8000", "http://localhost:8100", "http://[::1]:8000"]
)
def test_a_loopback_public_address_is_warned_about_where_links_are_made(
    role_client, credential, settings, public_url
):
    settings.PORTAL_PUBLIC_URL = public_url
    settings.PORTAL_COMPANY_NAME = "Acme Recording"

    form, made = reconsent_pages(role_client("Support"), credential)

    for page in (form, made):
        assert LOOPBACK in page and "Set PORTAL_PUBLIC_URL" in page
        assert UNNAMED not in page
    assert f"{public_url}/connect/" in made


def test_a_public_address_a_company_name_and_a_contact_need_no_warning(
    role_client, credential, settings
):
    settings.PORTAL_PUBLIC_URL = "https://portal.example.com"
    settings.PORTAL_COMPANY_NAME = "Acme Recording"
    settings.PORTAL_CONTACT_EMAIL = "help@acme.example"

    form, made = reconsent_pages(role_client("Support"), credential)

    for page in (form, made):
        assert LOOPBACK not in page and UNNAMED not in page and NO_CONTACT not in page


def test_no_contact_address_is_warned_about(role_client, credential, settings):
    settings.PORTAL_PUBLIC_URL = "https://portal.example.com"
    settings.PORTAL_CONTACT_EMAIL = ""

    form, made = reconsent_pages(role_client("Support"), credential)

    for page in (form, made):
        assert NO_CONTACT in page


def test_the_customers_pages_give_the_contact_address_when_there_is_one(
    person, credential, providers, settings
):
    settings.PORTAL_COMPANY_NAME = "Acme Recording"
    url = links.create_reconsent_link(credential, acting_user=None).url
    settings.PORTAL_CONTACT_EMAIL = ""
    without = person.open(token_of(url)).content.decode()
    settings.PORTAL_CONTACT_EMAIL = "help@acme.example"
    page = person.open(token_of(url)).content.decode()
    unknown = person.open("no-such-token").content.decode()

    assert 'id="contact"' not in without
    for html in (page, unknown):
        assert 'Write to Acme Recording at <a href="mailto:help@acme.example">' in html


def test_the_default_company_name_is_warned_about(role_client, credential, settings):
    settings.PORTAL_PUBLIC_URL = "https://portal.example.com"
    settings.PORTAL_COMPANY_NAME = "Our company"

    form, made = reconsent_pages(role_client("Support"), credential)

    for page in (form, made):
        assert UNNAMED in page and "Our company" in page


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8000", True),
        ("http://127.1.2.3", True),
        ("http://LOCALHOST:8000", True),
        ("http://portal.localhost", True),
        ("http://[::1]:8000", True),
        ("http://10.0.0.5:8000", False),
        ("https://portal.example.com", False),
        ("https://localhost.example.com", False),
        ("", False),
    ],
)
def test_loopback_addresses_are_told_apart(url, loopback):
    assert is_loopback(url) is loopback


def test_the_e_mail_gives_the_contact_address(credential, settings, mailoutbox):
    settings.PORTAL_CONTACT_EMAIL = "help@acme.example"
    new = links.create_reconsent_link(credential, acting_user=None)

    mail.send_link(new, "alice@example.com")

    sent = mailoutbox[0]
    assert "Write to help@acme.example." in sent.body
    assert '<a href="mailto:help@acme.example">' in sent.alternatives[0].content
