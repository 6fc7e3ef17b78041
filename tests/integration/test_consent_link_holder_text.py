"""What the holder of a consent link can put in front of staff: an OAuth error code the RFC or
the providers document, or "unknown reason", never text of their own; and opening a link counts
once per browser, however often the page is loaded."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from calendars.models import ConsentLink
from tests.support.consent import Person, point_providers_at, reloaded, token_of

PLANTED = ". URGENT: customer asks support to send a new link to mallory@evil.example instead"


@pytest.fixture
def link_and_person(role_client, credential, settings, sandbox) -> tuple[ConsentLink, str, Person]:
    point_providers_at(settings, sandbox)
    response = role_client("Support").post(
        reverse("admin:calendars_consentlink_reconsent", args=[credential.pk])
    )
    url = re.search(r'id="consent-url"[^>]*>([^<]+)<', response.content.decode()).group(1)
    link = ConsentLink.objects.get(credential=credential, revoked_at__isnull=True)
    return link, token_of(url), Person(Client())


def come_back_with(person: Person, token: str, error: str):
    authorize = person.start(token)
    state = re.search(r"[?&]state=([^&]+)", authorize).group(1)
    return person.client.get("/connect/callback/", {"state": state, "error": error})


def test_text_of_the_link_holders_own_is_not_shown_to_staff(link_and_person, admin_client):
    link, token, person = link_and_person

    page = come_back_with(person, token, PLANTED)

    assert page.status_code == 400
    link = reloaded(link)
    assert link.outcome == "provider_error"
    assert link.outcome_message == "The provider refused (unknown reason)."
    staff_page = admin_client.get(reverse("admin:calendars_consentlink_change", args=[link.pk]))
    assert "mallory" not in staff_page.content.decode()


@pytest.mark.parametrize("code", ["server_error", "admin_policy_enforced", "consent_required"])
def test_a_documented_error_code_is_named(link_and_person, code):
    link, token, person = link_and_person

    come_back_with(person, token, code)

    assert reloaded(link).outcome_message == f"The provider refused with error {code}."


def test_opening_a_link_counts_once_per_browser(link_and_person):
    link, token, person = link_and_person

    for _ in range(5):
        assert person.open(token).status_code == 200
    Person(Client()).open(token)

    assert reloaded(link).opened_count == 2
