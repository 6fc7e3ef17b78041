"""Microsoft admin consent over HTTP: a person of a tenant that lets no user consent alone is
refused, given an admin consent link for their IT administrator, who approves at the sandbox's
Microsoft; the person's own link then works. Support can make the link too."""

from __future__ import annotations

import re
import uuid
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from calendars.consent import links
from calendars.models import ConsentLink, Credential
from sandbox.oauth import HOME_TENANT
from tests.support.consent import Person, reloaded, token_of

pytestmark = pytest.mark.django_db(transaction=True)
OTHER_TENANT = "0b5c3a5e-1111-4b7a-9d1e-2f3a4b5c6d7e"


@pytest.fixture
def connect(customer, microsoft_app, providers) -> tuple[ConsentLink, str]:
    new = links.create_connect_link(
        customer, [microsoft_app], create_integrations="none", acting_user=None
    )
    return new.link, token_of(new.url)


@pytest.fixture
def admin_only(providers) -> None:
    providers.control("POST", f"tenants/{HOME_TENANT}", {"admin_consent_required": True})


def admin_link_on(page) -> str:
    return re.search(r'id="admin-consent-url"[^>]*>([^<]+)<', page.content.decode()).group(1)


def refused_with(person: Person, token: str, **answer: str):
    """The person starts a Microsoft sign-in and comes back with `answer` as Microsoft's."""
    state = parse_qs(urlsplit(person.start(token, "microsoft")).query)["state"][0]
    return person.come_back(f"/connect/callback/?{urlencode({**answer, 'state': state})}")


def test_the_administrators_approval_lets_the_refused_person_connect(
    person, connect, admin_only, customer
):
    link, token = connect

    refused = person.grant(token, "microsoft", email="carol@contoso.example")

    assert refused.status_code == 400
    assert b"Your administrator must approve first" in refused.content
    assert (reloaded(link).outcome, reloaded(link).is_usable) == ("needs_admin", True)
    admin_url = admin_link_on(refused)
    administrator = Person(Client())  # another person, in another browser
    page = administrator.open(token_of(admin_url))
    assert page.status_code == 200
    for words in (b"Approve calendar access for your organisation", b"Acme Corp", b"Our company"):
        assert words in page.content
    assert b"Calendars.Read" in page.content and b"Continue to Microsoft" in page.content

    approved = administrator.come_back(administrator.approve_as_admin(token_of(admin_url)))

    assert approved.status_code == 200 and b"Approved" in approved.content
    admin_link = ConsentLink.objects.get(kind="admin")
    assert (admin_link.outcome, admin_link.state, admin_link.for_link) == (
        "admin_approved",
        "used",
        link,
    )
    assert HOME_TENANT in admin_link.outcome_message
    assert reloaded(link).outcome == "admin_approved" and link.is_usable
    retried = person.client.get(reverse("consent-retry"))
    done = person.come_back(person.consent(retried["Location"], email="carol@contoso.example"))
    assert done.status_code == 200 and b"All set" in done.content
    assert Credential.objects.get(customer=customer).account_email == "carol@contoso.example"
    outcomes = list(link.history.order_by("history_id").values_list("outcome", flat=True))
    assert list(dict.fromkeys(outcomes)) == [
        "waiting",
        "needs_admin",
        "admin_approved",
        "connected",
    ]


@pytest.mark.parametrize(
    "answer",
    [
        {"error": "consent_required"},
        {"error": "access_denied", "error_description": "AADSTS65001: not consented"},
        {"error": "access_denied", "error_description": "AADSTS90094: admin permission"},
        {"error": "access_denied", "error_description": "AADSTS90095: admin consent required"},
    ],
)
def test_refusals_for_want_of_an_administrator_offer_an_admin_consent_link(person, connect, answer):
    link, token = connect

    page = refused_with(person, token, **answer)

    assert page.status_code == 400 and b"IT administrator" in page.content
    assert admin_link_on(page).startswith("http://testserver/connect/")
    assert reloaded(link).outcome == "needs_admin"
    assert ConsentLink.objects.get(kind="admin").for_link == link


def test_a_person_declining_is_not_taken_for_a_tenant_policy(person, connect):
    link, token = connect

    page = refused_with(
        person, token, error="access_denied", error_description="AADSTS65004: User declined"
    )

    assert page.status_code == 400 and b"You cancelled" in page.content
    assert reloaded(link).outcome == "denied"
    assert not ConsentLink.objects.filter(kind="admin").exists()


def test_a_second_refusal_replaces_the_first_admin_consent_link(person, connect):
    _, token = connect
    first = admin_link_on(refused_with(person, token, error="consent_required"))

    refused_with(person, token, error="consent_required")

    assert person.open(token_of(first)).status_code == 410
    assert ConsentLink.objects.filter(kind="admin", revoked_at__isnull=True).count() == 1


def test_an_administrators_answer_is_taken_only_in_the_browser_that_asked(
    person, connect, admin_only
):
    _, token = connect
    admin_token = token_of(admin_link_on(person.grant(token, "microsoft")))
    callback = Person(Client()).approve_as_admin(admin_token)

    elsewhere = Person(Client()).come_back(callback)
    forged = Person(Client())
    forged.start(admin_token, "microsoft")
    with_another_state = forged.come_back(re.sub(r"state=[^&]+", "state=forged", callback))

    assert elsewhere.status_code == 400 and with_another_state.status_code == 400
    admin_link = ConsentLink.objects.get(kind="admin")
    assert admin_link.outcome != "admin_approved" and admin_link.is_usable


def test_admin_consent_on_a_persons_sign_in_is_not_an_approval(person, connect):
    link, token = connect

    page = refused_with(person, token, admin_consent="True", tenant=HOME_TENANT)

    assert page.status_code == 400
    assert reloaded(link).outcome == "provider_error"


def test_support_makes_an_admin_consent_link_for_a_credentials_own_tenant(
    role_client, customer, microsoft_app, providers
):
    tenant = str(uuid.uuid4())
    credential = Credential.objects.create(
        customer=customer,
        oauth_app=microsoft_app,
        account_email="carol@contoso.example",
        subject=f"{tenant}/{uuid.uuid4()}",
        refresh_token="old:carol@contoso.example",
    )
    support = role_client("Support")
    url = reverse("admin:calendars_consentlink_credential_admin_consent", args=[credential.pk])
    page = support.get(reverse("admin:calendars_credential_change", args=[credential.pk]))
    assert f'<a href="{url}">Create admin consent link</a>' in page.content.decode()
    assert b"IT administrator" in support.get(url).content

    made = support.post(url)

    admin_url = re.search(r'id="consent-url"[^>]*>([^<]+)<', made.content.decode()).group(1)
    administrator = Person(Client())
    consent_url = administrator.start(token_of(admin_url), "microsoft")
    assert consent_url.startswith(f"{providers.url}/oauth/microsoft/{tenant}/v2.0/adminconsent?")
    query = parse_qs(urlsplit(consent_url).query)
    assert query["scope"][0].split() == [
        "offline_access",
        "https://graph.microsoft.com/Calendars.Read",
        "openid",
        "email",
        "profile",
    ]
    assert query["redirect_uri"] == ["http://testserver/connect/callback/"]
    # An administrator of another organisation approves: not taken for this one.
    other = administrator.come_back(
        administrator.approve_as_admin(token_of(admin_url), tenant=OTHER_TENANT)
    )
    assert other.status_code == 400 and b"another Microsoft organisation" in other.content
    admin_link = ConsentLink.objects.get(kind="admin", credential=credential)
    assert admin_link.outcome == "provider_error" and admin_link.is_usable
    again = administrator.client.get(reverse("consent-retry"))
    callback = administrator.approve_as_admin(token_of(admin_url), tenant=tenant)
    assert again.status_code == 302
    assert administrator.come_back(callback).status_code == 200
    assert reloaded(admin_link).outcome == "admin_approved"


def test_an_administrator_who_declines_is_recorded_on_both_links(person, connect, admin_only):
    link, token = connect
    admin_token = token_of(admin_link_on(person.grant(token, "microsoft")))
    administrator = Person(Client())

    page = administrator.come_back(administrator.approve_as_admin(admin_token, decision="cancel"))

    assert page.status_code == 400 and b"You did not approve" in page.content
    assert reloaded(link).outcome == "admin_refused"
    assert ConsentLink.objects.get(kind="admin").outcome == "admin_refused"


def test_without_a_microsoft_app_no_admin_consent_link_is_made(role_client, customer, google_app):
    url = reverse("admin:calendars_consentlink_admin_consent", args=[customer.pk])

    page = role_client("Support").post(url, {"oauth_app": google_app.pk}, follow=True)

    assert b"add a Microsoft OAuth app first" in page.content
    assert not ConsentLink.objects.exists()


def test_support_makes_an_admin_consent_link_from_the_customer_and_auditors_cannot(
    role_client, client, customer, microsoft_app, google_app, credential
):
    support = role_client("Support")
    page = support.get(reverse("admin:calendars_customer_change", args=[customer.pk]))
    url = reverse("admin:calendars_consentlink_admin_consent", args=[customer.pk])
    assert f'<a href="{url}">Create admin consent link</a>' in page.content.decode()
    google = reverse("admin:calendars_consentlink_credential_admin_consent", args=[credential.pk])
    assert b"this credential is not" in support.get(google, follow=True).content
    google_page = support.get(reverse("admin:calendars_credential_change", args=[credential.pk]))
    assert google not in google_page.content.decode()

    made = support.post(url, {"oauth_app": microsoft_app.pk})

    assert made.status_code == 200 and b"IT administrator" in made.content
    assert list(ConsentLink.objects.get().oauth_apps.all()) == [microsoft_app]
    auditor = role_client("Auditor")
    assert auditor.post(url, {"oauth_app": microsoft_app.pk}).status_code == 403
    assert ConsentLink.objects.count() == 1
