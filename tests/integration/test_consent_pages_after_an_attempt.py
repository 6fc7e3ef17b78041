"""What the customer's person sees after an attempt: "Try again" starts the same link over
(while it still works), and the success page reloaded says it is already done."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from calendars.consent import links
from calendars.models import ConsentLink
from tests.support.consent import Person, reloaded, token_of

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def link_url(credential, providers) -> tuple[ConsentLink, str]:
    made = links.create_reconsent_link(credential, acting_user=None)
    return made.link, made.url


def try_again_href(page) -> str:
    return re.search(r'id="try-again" href="([^"]+)"', page.content.decode()).group(1)


def test_the_cancel_page_offers_try_again_which_starts_the_same_link_over(person, link_url):
    link, url = link_url
    cancelled = person.grant(token_of(url), decision="cancel")
    assert cancelled.status_code == 400 and b"You cancelled" in cancelled.content

    again = person.client.get(try_again_href(cancelled))

    assert again.status_code == 302 and "/oauth/google/authorize" in again["Location"]
    done = person.come_back(person.consent(again["Location"]))
    assert done.status_code == 200 and b"All set" in done.content
    assert reloaded(link).outcome == "reconsented"


def test_a_provider_error_page_offers_try_again_too(person, link_url, providers):
    _, url = link_url
    providers.fault("POST", "/oauth/google/token", "status", status=503)

    failed = person.grant(token_of(url))

    assert failed.status_code == 400 and try_again_href(failed) == reverse("consent-retry")


def test_try_again_on_a_link_revoked_meanwhile_says_it_was_withdrawn(person, link_url):
    link, url = link_url
    person.grant(token_of(url), decision="cancel")
    links.revoke(link, acting_user=None)

    again = person.client.get(reverse("consent-retry"))

    assert again.status_code == 410 and b"withdrawn" in again.content


def test_try_again_in_a_browser_that_made_no_attempt_starts_nothing(link_url):
    page = Person(Client()).client.get(reverse("consent-retry"))

    assert page.status_code == 404 and b"Link not recognised" in page.content


def test_the_success_page_reloaded_says_it_is_already_done(person, link_url, credential):
    _, url = link_url
    callback = person.consent(person.start(token_of(url)))
    assert person.come_back(callback).status_code == 200
    credential.refresh_from_db()
    granted = credential.refresh_token.reveal()

    reloaded_page = person.come_back(callback)

    assert reloaded_page.status_code == 200
    html = reloaded_page.content.decode()
    assert "Already done" in html and "nothing more to do" in html
    assert "cannot be completed" not in html and "start over" not in html
    credential.refresh_from_db()
    assert credential.refresh_token.reveal() == granted
