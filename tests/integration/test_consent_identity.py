"""Who granted is proved by the provider's ID token, not claimed by an e-mail (issue 26, item 1).

Over HTTP against the sandbox's Google and Microsoft, which sign ID tokens with keys they
publish and can play the attacks: a Microsoft account of another tenant claiming a colleague's
e-mail (the "nOAuth" attack), an unverified Google e-mail, and ID tokens spoiled one way each.
Each refusal leaves the credentials, their tokens and the link as they were.
"""

from __future__ import annotations

import re
import uuid

import pytest
from django.urls import reverse

from calendars.models import ConsentLink, Credential
from sandbox.oauth import HOME_TENANT, Account
from tests.support.consent import reloaded, token_of

pytestmark = pytest.mark.django_db(transaction=True)

ALICE = "alice@contoso.example"
ATTACKER_TENANT = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"


def connect_link(admin_client, customer, app) -> str:
    response = admin_client.post(
        reverse("admin:calendars_consentlink_connect", args=[customer.pk]),
        {"oauth_apps": [app.pk], "create_integrations": "none"},
    )
    return token_of(re.search(r'id="consent-url"[^>]*>([^<]+)<', response.content.decode())[1])


def reconsent_link(admin_client, credential) -> str:
    response = admin_client.post(
        reverse("admin:calendars_consentlink_reconsent", args=[credential.pk])
    )
    return token_of(re.search(r'id="consent-url"[^>]*>([^<]+)<', response.content.decode())[1])


def microsoft_subject(email: str, tenant: str = HOME_TENANT) -> str:
    return f"{tenant}/{Account(email, tenant_id=tenant).object_id}"


@pytest.fixture
def alice(admin_client, person, customer, microsoft_app, providers) -> Credential:
    """Alice's Microsoft credential, connected through a link as she would."""
    done = person.grant(
        connect_link(admin_client, customer, microsoft_app), "microsoft", email=ALICE
    )
    assert done.status_code == 200, done.content[:500]
    return Credential.objects.get(account_email=ALICE)


def token_of_credential(credential: Credential) -> str:
    credential.refresh_from_db()
    return credential.refresh_token.reveal()


def test_a_connect_link_stores_the_subject_the_id_token_proves(admin_client, alice):
    assert alice.subject == microsoft_subject(ALICE)
    assert alice.refresh_token.reveal().endswith(f":{ALICE}")
    page = admin_client.get(reverse("admin:calendars_credential_change", args=[alice.pk]))
    assert alice.subject in page.content.decode()


def test_a_google_connect_link_stores_the_accounts_sub(
    admin_client, person, customer, google_app, providers
):
    done = person.grant(connect_link(admin_client, customer, google_app), email="dave@example.com")

    assert done.status_code == 200, done.content[:500]
    assert Credential.objects.get().subject == Account("dave@example.com").google_sub


def test_another_tenants_account_claiming_alices_email_never_touches_her_credential(
    admin_client, person, customer, microsoft_app, alice
):
    before = token_of_credential(alice)
    link = connect_link(admin_client, customer, microsoft_app)

    done = person.grant(link, "microsoft", email=ALICE, tenant=ATTACKER_TENANT)

    assert token_of_credential(alice) == before
    assert alice.subject == microsoft_subject(ALICE)
    # The other account got a credential of its own, which staff see under the same e-mail.
    assert done.status_code == 200, done.content[:500]
    other = Credential.objects.exclude(pk=alice.pk).get()
    assert other.subject == microsoft_subject(ALICE, ATTACKER_TENANT)
    assert ConsentLink.objects.get(credential=other).outcome == "connected"


def test_a_connect_link_for_alice_herself_asks_for_a_reconsent_link(
    admin_client, person, customer, microsoft_app, alice
):
    before = token_of_credential(alice)
    token = connect_link(admin_client, customer, microsoft_app)

    page = person.grant(token, "microsoft", email=ALICE)

    assert page.status_code == 400 and b"re-consent link" in page.content
    assert token_of_credential(alice) == before and Credential.objects.count() == 1
    link = ConsentLink.objects.filter(credential__isnull=True).get()
    assert link.outcome == "known_account" and link.is_usable


def test_a_reconsent_by_another_subject_is_refused(admin_client, person, alice):
    before = token_of_credential(alice)
    token = reconsent_link(admin_client, alice)

    page = person.grant(token, "microsoft", email=ALICE, tenant=ATTACKER_TENANT)

    assert page.status_code == 400 and b"Nothing was changed" in page.content
    link = ConsentLink.objects.get(kind="reconsent")
    assert link.outcome == "wrong_account" and link.is_usable
    assert token_of_credential(alice) == before
    assert alice.subject == microsoft_subject(ALICE)


def test_a_reconsent_by_the_same_subject_replaces_the_token(admin_client, person, alice):
    before = token_of_credential(alice)

    done = person.grant(reconsent_link(admin_client, alice), "microsoft", email=ALICE)

    assert done.status_code == 200, done.content[:500]
    assert token_of_credential(alice) != before
    assert reloaded(ConsentLink.objects.get(kind="reconsent")).outcome == "reconsented"


def test_a_credential_made_before_takes_its_subject_at_the_first_reconsent_only_from_its_email(
    admin_client, person, credential, providers
):
    assert credential.subject == ""
    refused = person.grant(reconsent_link(admin_client, credential), email="mallory@example.com")
    assert refused.status_code == 400
    credential.refresh_from_db()
    assert credential.subject == ""

    done = person.grant(reconsent_link(admin_client, credential), email="alice@example.com")

    assert done.status_code == 200, done.content[:500]
    credential.refresh_from_db()
    assert credential.subject == Account("alice@example.com").google_sub
    assert credential.history.filter(subject=credential.subject).exists()


@pytest.mark.parametrize(
    "spoiled", ["bad_signature", "wrong_audience", "wrong_issuer", "expired", "wrong_nonce"]
)
@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_a_spoiled_id_token_is_refused_and_changes_nothing(
    admin_client, person, customer, google_app, microsoft_app, providers, provider, spoiled
):
    app = google_app if provider == "google" else microsoft_app
    email = "alice@example.com" if provider == "google" else ALICE

    page = person.grant(
        connect_link(admin_client, customer, app), provider, email=email, spoil=spoiled
    )

    assert page.status_code == 400 and b"Nothing was changed" in page.content
    link = ConsentLink.objects.get()
    assert link.outcome == "provider_error" and link.is_usable
    assert "ID token" in link.outcome_message
    assert not Credential.objects.exists()


def test_a_google_account_whose_email_is_not_verified_is_refused(
    admin_client, person, customer, google_app, providers
):
    token = connect_link(admin_client, customer, google_app)

    page = person.grant(token, email="alice@example.com", spoil="unverified_email")

    assert page.status_code == 400
    link = ConsentLink.objects.get()
    assert link.outcome == "provider_error" and "not verified" in link.outcome_message
    assert link.is_usable and not Credential.objects.exists()


def test_a_single_tenant_app_refuses_another_tenants_account(
    admin_client, person, customer, microsoft_app, providers
):
    microsoft_app.tenant = HOME_TENANT
    microsoft_app.save()
    token = connect_link(admin_client, customer, microsoft_app)

    page = person.grant(token, "microsoft", email=ALICE, tenant=str(uuid.uuid4()))

    assert page.status_code == 400
    assert "another tenant" in ConsentLink.objects.get().outcome_message
    assert not Credential.objects.exists()


def test_a_sign_in_started_without_a_nonce_is_refused(
    admin_client, person, customer, google_app, providers
):
    token = connect_link(admin_client, customer, google_app)
    callback = person.consent(person.start(token))
    session = person.client.session
    del session["consent_flow"]["nonce"]  # a session from before nonces were kept
    session.save()

    page = person.come_back(callback)

    assert page.status_code == 400
    assert "nonce" in ConsentLink.objects.get().outcome_message
    assert not Credential.objects.exists()


def test_the_providers_keys_out_of_reach_change_nothing_and_a_retry_succeeds(
    admin_client, person, customer, google_app, providers
):
    token = connect_link(admin_client, customer, google_app)
    providers.fault("GET", "/oauth/google/certs", "status", status=503)

    page = person.grant(token, email="dave@example.com")

    assert page.status_code == 400 and b"Nothing was changed" in page.content
    link = ConsentLink.objects.get()
    assert link.outcome == "provider_error" and "503" in link.outcome_message
    assert link.is_usable and not Credential.objects.exists()
    providers.control("DELETE", "faults")
    assert person.grant(token, email="dave@example.com").status_code == 200
    assert Credential.objects.get().subject == Account("dave@example.com").google_sub
