"""Consent links end to end over HTTP: support makes a link, the customer's person grants
access at the sandbox's fake Google or Microsoft, and the portal stores, pushes and creates.
Each refusal gives the person a clear page, records an outcome and changes nothing else."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from calendars.consent import links
from calendars.models import (
    ActionRecord,
    ConsentLink,
    Credential,
    Integration,
    ProblemCount,
    RawCalendar,
)
from calendars.status import PortalStatus
from tests.support.consent import GOOGLE_SCOPES, Person, reloaded, token_of

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def broken(providers, make_integration, credential) -> Integration:
    """An integration whose refresh token Meeting BaaS no longer accepts."""
    integration = make_integration()
    providers.force(integration.remote_id, status="error", status_message="invalid_grant")
    Integration.objects.filter(pk=integration.pk).update(
        status=PortalStatus.ERROR, error_message="invalid_grant: Token has been expired or revoked."
    )
    ProblemCount.recount()  # written around the portal: classified and counted again
    return integration


def make_reconsent(client, credential, **form) -> tuple[ConsentLink, str]:
    response = client.post(
        reverse("admin:calendars_consentlink_reconsent", args=[credential.pk]), form
    )
    assert response.status_code == 200, response.content[:300]
    url = re.search(r'id="consent-url"[^>]*>([^<]+)<', response.content.decode()).group(1)
    return ConsentLink.objects.get(credential=credential, revoked_at__isnull=True), url


def test_support_makes_a_reconsent_link_and_the_owner_fixes_the_integration(
    role_client, person, broken, credential, providers
):
    link, url = make_reconsent(role_client("Support"), credential)
    token = token_of(url)

    page = person.open(token)
    assert page.status_code == 200
    assert b"Acme Corp" in page.content and b"Our company" in page.content
    done = person.grant(token)

    assert done.status_code == 200, done.content[:500]
    assert b"All set" in done.content
    credential.refresh_from_db()
    new_token = credential.refresh_token.reveal()
    assert new_token.startswith("sbx-") and new_token.endswith(":alice@example.com")
    assert credential.consented_at is not None
    link = reloaded(link)
    assert (link.outcome, link.state, link.granted_by_email) == (
        "reconsented",
        "used",
        "alice@example.com",
    )
    # The push reached Meeting BaaS, which took the connection back, and the refresh saw it.
    assert providers.connection(broken.remote_id).refresh_token == new_token
    broken.refresh_from_db()
    assert broken.status == PortalStatus.ACTIVE
    assert ActionRecord.objects.filter(
        integration=broken, message=f"re-consented by the account owner through link {link.pk}"
    ).exists()
    assert credential.last_check_ok is True


def test_the_consent_request_asks_google_for_exactly_the_guides_scopes(
    role_client, person, credential, providers
):
    _, url = make_reconsent(role_client("Support"), credential)

    authorize = person.start(token_of(url), redirect_uri="https://evil.example/", next="/x")

    query = parse_qs(urlsplit(authorize).query)
    assert authorize.startswith(f"{providers.url}/oauth/google/authorize?")
    assert query["scope"][0].split() == [*GOOGLE_SCOPES, "openid", "email"]
    assert query["access_type"] == ["offline"] and query["prompt"] == ["consent"]
    assert query["include_granted_scopes"] == ["true"]
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) >= 43
    assert query["redirect_uri"] == ["http://testserver/connect/callback/"]
    assert len(query["state"][0]) >= 20
    assert query["login_hint"] == ["alice@example.com"]


def test_microsoft_is_asked_at_the_apps_tenant_for_offline_calendar_access(
    admin_client, person, customer, microsoft_app, providers
):
    microsoft_app.tenant = "organizations"
    microsoft_app.needs_calendar_write = True
    microsoft_app.save()
    response = admin_client.post(
        reverse("admin:calendars_consentlink_connect", args=[customer.pk]),
        {"oauth_apps": [microsoft_app.pk], "create_integrations": "none"},
    )
    url = re.search(r'id="consent-url"[^>]*>([^<]+)<', response.content.decode()).group(1)

    authorize = person.start(token_of(url), "microsoft")

    assert authorize.startswith(
        f"{providers.url}/oauth/microsoft/organizations/oauth2/v2.0/authorize?"
    )
    scopes = parse_qs(urlsplit(authorize).query)["scope"][0].split()
    assert scopes == [
        "offline_access",
        "Calendars.Read",
        "Calendars.ReadWrite",
        "openid",
        "email",
        "profile",  # without it, Microsoft's ID token names no object id (oid)
    ]
    done = person.come_back(person.consent(authorize, email="carol@contoso.example"))
    assert done.status_code == 200, done.content[:500]
    credential = Credential.objects.get(customer=customer)
    assert (credential.account_email, credential.oauth_app) == (
        "carol@contoso.example",
        microsoft_app,
    )


@pytest.mark.parametrize(("create", "expected"), [("primary", 1), ("all", 3), ("none", 0)])
def test_a_connect_link_makes_the_credential_lists_calendars_and_creates_integrations(
    admin_client, person, customer, google_app, providers, create, expected
):
    response = admin_client.post(
        reverse("admin:calendars_consentlink_connect", args=[customer.pk]),
        {"oauth_apps": [google_app.pk], "create_integrations": create},
    )
    url = re.search(r'id="consent-url"[^>]*>([^<]+)<', response.content.decode()).group(1)

    done = person.grant(token_of(url), email="dave@example.com")

    assert done.status_code == 200, done.content[:500]
    credential = Credential.objects.get(customer=customer)
    assert credential.account_email == "dave@example.com"
    assert credential.refresh_token.reveal().endswith(":dave@example.com")
    assert RawCalendar.objects.filter(credential=credential).count() == 3
    assert Integration.objects.filter(credential=credential).count() == expected
    link = ConsentLink.objects.get()
    assert (link.outcome, link.credential) == ("connected", credential)


def test_a_connect_link_for_a_known_account_never_replaces_its_token(
    admin_client, person, customer, google_app, credential, providers
):
    """Until issue 26 a connect link updated the known account's credential; now it never
    replaces a token: the account is asked for a re-consent link (test_consent_identity.py
    has the other subject's case)."""
    response = admin_client.post(
        reverse("admin:calendars_consentlink_connect", args=[customer.pk]),
        {"oauth_apps": [google_app.pk], "create_integrations": "none"},
    )
    url = re.search(r'id="consent-url"[^>]*>([^<]+)<', response.content.decode()).group(1)

    page = person.grant(token_of(url), email="ALICE@example.com")

    assert page.status_code == 400 and b"re-consent link" in page.content
    assert Credential.objects.get() == credential
    assert unchanged(credential, "1//refresh:alice@example.com")
    link = ConsentLink.objects.get()
    assert link.outcome == "known_account" and link.is_usable
    assert f"credential {credential.pk}" in link.outcome_message


def unchanged(credential: Credential, token: str) -> bool:
    credential.refresh_from_db()
    return credential.refresh_token.reveal() == token


@pytest.mark.parametrize(
    ("spoil", "state"),
    [
        (
            lambda link: link.__class__.objects.filter(pk=link.pk).update(
                expires_at=timezone.now() - timedelta(seconds=1)
            ),
            "expired",
        ),
        (lambda link: links.revoke(link, acting_user=None), "revoked"),
        (
            lambda link: link.__class__.objects.filter(pk=link.pk).update(used_at=timezone.now()),
            "used",
        ),
    ],
)
def test_expired_revoked_and_used_links_say_so_politely(
    role_client, person, credential, providers, spoil, state
):
    link, url = make_reconsent(role_client("Support"), credential)
    spoil(link)

    page = person.open(token_of(url))

    assert page.status_code == 410
    assert b"ask" in page.content.lower() and b"new link" in page.content
    assert person.client.get(f"/connect/{token_of(url)}/google/").status_code == 410
    assert reloaded(link).state == state


def test_an_unknown_or_overlong_token_is_not_found(person, db):
    assert person.open("x" * 43).status_code == 404
    assert person.open("x" * 5000).status_code == 404


def test_a_link_expired_while_the_person_was_at_the_provider_changes_nothing(
    role_client, person, credential, providers
):
    link, url = make_reconsent(role_client("Support"), credential)
    callback = person.consent(person.start(token_of(url)))
    ConsentLink.objects.filter(pk=link.pk).update(expires_at=timezone.now())

    assert person.come_back(callback).status_code == 410
    assert unchanged(credential, "1//refresh:alice@example.com")


def test_a_replayed_callback_is_refused_and_changes_nothing_more(
    role_client, person, credential, providers
):
    _, url = make_reconsent(role_client("Support"), credential)
    callback = person.consent(person.start(token_of(url)))
    assert person.come_back(callback).status_code == 200
    credential.refresh_from_db()
    first = credential.refresh_token.reveal()

    reloaded_page = person.come_back(callback)  # the success page reloaded
    elsewhere = Person(Client()).come_back(callback)

    assert reloaded_page.status_code == 200 and b"Already done" in reloaded_page.content
    assert elsewhere.status_code == 400 and b"cannot be completed" in elsewhere.content
    assert unchanged(credential, first)


def test_a_callback_with_another_state_or_in_another_browser_is_refused(
    role_client, person, credential, providers
):
    link, url = make_reconsent(role_client("Support"), credential)
    callback = person.consent(person.start(token_of(url)))
    forged = re.sub(r"state=[^&]+", "state=forged", callback)

    assert person.come_back(forged).status_code == 400
    assert Person(Client()).come_back(callback).status_code == 400
    assert unchanged(credential, "1//refresh:alice@example.com")
    link = reloaded(link)
    assert link.is_usable and link.outcome_message == "The callback's state did not match."


def test_a_pkce_mismatch_is_refused_by_the_provider_and_recorded(
    role_client, person, credential, providers
):
    link, url = make_reconsent(role_client("Support"), credential)
    callback = person.consent(person.start(token_of(url)))
    session = person.client.session
    session["consent_flow"] = {**session["consent_flow"], "verifier": "not-the-verifier" * 4}
    session.save()

    page = person.come_back(callback)

    assert page.status_code == 400 and b"open your link again" in page.content
    link = reloaded(link)
    assert link.outcome == "provider_error" and "invalid_grant" in link.outcome_message
    assert link.is_usable and unchanged(credential, "1//refresh:alice@example.com")


def test_another_account_cannot_reconsent_a_credential(role_client, person, credential, providers):
    link, url = make_reconsent(role_client("Support"), credential)

    page = person.grant(token_of(url), email="mallory@example.com")

    assert page.status_code == 400
    assert b"mallory@example.com" in page.content and b"Nothing was changed" in page.content
    link = reloaded(link)
    assert (link.outcome, link.granted_by_email) == ("wrong_account", "mallory@example.com")
    assert link.is_usable and unchanged(credential, "1//refresh:alice@example.com")


def test_a_grant_without_the_calendar_scopes_is_refused_with_what_to_tick(
    role_client, person, credential, providers
):
    link, url = make_reconsent(role_client("Support"), credential)

    page = person.grant(token_of(url), untick=(GOOGLE_SCOPES[1],))

    assert page.status_code == 400 and b"keep every calendar permission ticked" in page.content
    link = reloaded(link)
    assert link.outcome == "missing_scopes" and GOOGLE_SCOPES[1] in link.outcome_message
    assert link.is_usable and unchanged(credential, "1//refresh:alice@example.com")


def test_cancelling_at_the_provider_is_recorded_and_the_link_still_works(
    role_client, person, credential, providers
):
    link, url = make_reconsent(role_client("Support"), credential)

    page = person.grant(token_of(url), decision="cancel")

    assert page.status_code == 400 and b"You cancelled" in page.content
    assert reloaded(link).outcome == "denied"
    assert person.grant(token_of(url)).status_code == 200
    assert reloaded(link).outcome == "reconsented"


def test_the_token_endpoint_down_changes_nothing_and_a_retry_succeeds(
    role_client, person, credential, providers
):
    link, url = make_reconsent(role_client("Support"), credential)
    providers.fault("POST", "/oauth/google/token", "status", status=503)

    page = person.grant(token_of(url))

    assert page.status_code == 400 and b"Nothing was changed" in page.content
    link = reloaded(link)
    assert link.outcome == "provider_error" and "503" in link.outcome_message
    assert unchanged(credential, "1//refresh:alice@example.com")
    assert person.grant(token_of(url)).status_code == 200


def test_the_link_token_is_stored_only_as_a_hash(role_client, credential, providers):
    link, url = make_reconsent(role_client("Support"), credential)
    token = token_of(url)
    assert len(token) >= 43  # 256 random bits, url-safe base64

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM calendars_consentlink")
        row = " ".join(str(value) for value in cursor.fetchone())
        cursor.execute("SELECT * FROM calendars_historicalconsentlink")
        history = " ".join(str(value) for r in cursor.fetchall() for value in r)
    assert token not in row and token not in history
    assert link.token_hash == links.token_hash(token)


def test_no_page_or_log_line_shows_a_refresh_token_or_code(
    role_client, person, credential, providers, caplog
):
    caplog.set_level(logging.DEBUG)
    link, url = make_reconsent(role_client("Support"), credential, send_to="alice@example.com")
    callback = person.consent(person.start(token_of(url)))
    code = parse_qs(urlsplit(callback).query)["code"][0]

    done = person.come_back(callback)
    credential.refresh_from_db()
    new_token = credential.refresh_token.reveal()
    staff = role_client("Admin")
    pages = [
        done.content.decode(),
        staff.get(reverse("admin:calendars_consentlink_change", args=[link.pk])).content.decode(),
        staff.get(reverse("admin:calendars_consentlink_changelist")).content.decode(),
        staff.get(
            reverse("admin:calendars_credential_change", args=[credential.pk])
        ).content.decode(),
    ]

    for text in [*pages, caplog.text]:
        assert new_token not in text and code not in text
    assert token_of(url) not in caplog.text
    assert len(mail.outbox) == 1 and url in mail.outbox[0].body


@pytest.mark.parametrize("role", ["Auditor"])
def test_auditors_cannot_make_or_revoke_links(role_client, credential, customer, providers, role):
    link, _ = make_reconsent(role_client("Support"), credential)
    auditor = role_client(role)

    made = auditor.post(reverse("admin:calendars_consentlink_reconsent", args=[credential.pk]))
    connect = auditor.post(
        reverse("admin:calendars_consentlink_connect", args=[customer.pk]),
        {"oauth_apps": [credential.oauth_app_id], "create_integrations": "none"},
    )
    revoked = auditor.post(
        reverse("admin:calendars_consentlink_changelist"),
        {"action": "revoke_links", "_selected_action": [link.pk]},
    )

    assert made.status_code == 403 and connect.status_code == 403
    assert ConsentLink.objects.count() == 1
    assert revoked.status_code in (200, 302, 403) and reloaded(link).is_usable


def test_support_revokes_a_link_and_a_new_reconsent_link_replaces_the_old(
    role_client, person, credential, providers
):
    support = role_client("Support")
    first, first_url = make_reconsent(support, credential)
    second, _ = make_reconsent(support, credential)
    assert reloaded(first).state == "revoked"
    assert person.open(token_of(first_url)).status_code == 410

    support.post(
        reverse("admin:calendars_consentlink_changelist"),
        {"action": "revoke_links", "_selected_action": [second.pk], "confirm": "1"},
    )

    assert reloaded(second).state == "revoked"


def test_without_a_public_address_no_link_is_made(role_client, credential, settings):
    settings.PORTAL_PUBLIC_URL = ""

    response = role_client("Support").post(
        reverse("admin:calendars_consentlink_reconsent", args=[credential.pk]), follow=True
    )

    assert "Consent links need PORTAL_PUBLIC_URL" in response.content.decode()
    assert not ConsentLink.objects.exists()


def test_needs_attention_offers_a_reconsent_link_then_says_it_was_sent(
    role_client, broken, credential
):
    support = role_client("Support")
    reconsent = reverse("admin:calendars_consentlink_reconsent", args=[credential.pk])
    before = support.get(reverse("admin:index")).content.decode()
    assert f'<a href="{reconsent}">Create re-consent link</a>' in before
    assert "waiting for customers" not in before

    link, _ = make_reconsent(support, credential)
    after = support.get(reverse("admin:index")).content.decode()
    page = support.get(reverse("admin:calendars_integration_change", args=[broken.pk]))

    assert f'<a href="{reconsent}">Create re-consent link</a>' not in after
    assert "Re-consent link <a href" in after and "not used yet" in after
    assert "1 consent link waiting for customers" in after
    assert 'id="fix-create_reconsent_link"' not in page.content.decode()
    assert "not used yet" in page.content.decode()
    assert reloaded(link).is_usable


def test_auditors_are_offered_no_reconsent_link(role_client, broken, credential):
    home = role_client("Auditor").get(reverse("admin:index")).content.decode()

    assert "Refresh token refused or revoked" in home
    assert reverse("admin:calendars_consentlink_reconsent", args=[credential.pk]) not in home


def test_without_a_mailer_the_link_is_only_shown(role_client, credential, providers, settings):
    settings.MAILERS = {}
    support = role_client("Support")
    form = support.get(reverse("admin:calendars_consentlink_reconsent", args=[credential.pk]))
    assert b'name="send_to"' not in form.content

    link, url = make_reconsent(support, credential, send_to="alice@example.com")

    assert url.startswith("http://testserver/connect/") and not mail.outbox
    assert reloaded(link).sent_to == ""


def test_the_queued_push_carries_no_refresh_token_or_code(
    role_client, person, broken, credential, providers, monkeypatch
):
    monkeypatch.setattr(Conf, "SYNC", False)  # the push stays queued, to be read
    _, url = make_reconsent(role_client("Support"), credential)
    callback = person.consent(person.start(token_of(url)))
    code = parse_qs(urlsplit(callback).query)["code"][0]

    assert person.come_back(callback).status_code == 200

    credential.refresh_from_db()
    new_token = credential.refresh_token.reveal()
    queued = [repr(SignedPackage.loads(message.payload)) for message in OrmQ.objects.all()]
    assert queued, "the credential push was not queued"
    for text in queued:
        assert new_token not in text and code not in text and token_of(url) not in text
