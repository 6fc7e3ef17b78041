"""The status-change and action-record lists are searched by customer, account e-mail and
(status changes) exact Meeting BaaS id."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from calendars.actions.audit import record_action
from calendars.actions.integrations import create_integration
from calendars.models import Credential, Customer, RawCalendar

ACTIONS = reverse("admin:calendars_actionrecord_changelist")
STATUS_CHANGES = reverse("admin:calendars_statuschange_changelist")


def found(client, url: str, term: str) -> set[int]:
    response = client.get(url, {"q": term})
    assert response.status_code == 200
    return {row.integration_id for row in response.context["cl"].result_list}


def other_customers_integration(google_app):
    credential = Credential.objects.create(
        customer=Customer.objects.create(name="Globex"),
        oauth_app=google_app,
        account_email="bob@globex.example",
        refresh_token="1//refresh:bob@globex.example",
    )
    raw = RawCalendar.objects.create(
        credential=credential,
        provider_id="bob@globex.example",
        name="Bob",
        listed_at=timezone.now(),
    )
    return create_integration(raw).integration


def test_status_changes_are_found_by_customer_e_mail_and_meeting_baas_id(
    admin_client, sandbox, make_integration, google_app
):
    mine = make_integration()
    theirs = other_customers_integration(google_app)

    assert found(admin_client, STATUS_CHANGES, "acme") == {mine.pk}
    assert found(admin_client, STATUS_CHANGES, "bob@globex") == {theirs.pk}
    assert found(admin_client, STATUS_CHANGES, str(theirs.remote_id)) == {theirs.pk}
    assert found(admin_client, STATUS_CHANGES, str(theirs.remote_id)[:8]) == set()
    assert found(admin_client, STATUS_CHANGES, "nobody") == set()
    page = admin_client.get(STATUS_CHANGES).content.decode()
    assert 'name="q"' in page and "exact Meeting BaaS id" in page


def test_action_records_are_found_by_customer_and_e_mail_too(
    admin_client, admin_user, sandbox, make_integration, google_app, credential
):
    mine = make_integration()
    theirs = other_customers_integration(google_app)
    record_action(admin_user, "replace refresh token", succeeded=True, credential=credential)

    by_customer = admin_client.get(ACTIONS, {"q": "Acme"}).context["cl"].result_list
    by_email = admin_client.get(ACTIONS, {"q": "bob@globex.example"}).context["cl"].result_list
    by_who = admin_client.get(ACTIONS, {"q": admin_user.username}).context["cl"].result_list

    assert {(r.action, r.integration_id) for r in by_customer} == {
        ("create integration", mine.pk),
        ("replace refresh token", None),
    }
    assert {(r.action, r.integration_id) for r in by_email} == {("create integration", theirs.pk)}
    assert [r.action for r in by_who] == ["replace refresh token"]
