"""Expiring soon: one test per rule, with dates on either side of each edge, then where a
person sees them (the dashboard lane, the forms that hold the dates)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from calendars.actions.credentials import list_raw_calendars
from calendars.models import BulkJob, BulkJobItem, Credential, Integration, OAuthApp, RawCalendar
from calendars.queries.expiry import (
    expiring_client_secrets,
    expiring_soon,
    grants_in_testing,
    unrenewed_subscriptions,
    unused_grants,
)

MINUTE = timedelta(minutes=1)


@pytest.fixture(autouse=True)
def two_days_ahead(settings) -> None:
    settings.EXPIRY_WARNING_DAYS = 2


@pytest.fixture
def testing_app(google_app) -> OAuthApp:
    google_app.publishing_status = "testing"
    google_app.save()
    return google_app


def make_credential(customer, app: OAuthApp, email: str, **times) -> Credential:
    credential = Credential.objects.create(
        customer=customer, oauth_app=app, account_email=email, refresh_token="rt"
    )
    Credential.objects.filter(pk=credential.pk).update(**times)
    return Credential.objects.get(pk=credential.pk)


def test_a_testing_apps_grant_is_listed_once_within_warning_of_its_seventh_day(
    customer, testing_app, google_app
):
    now = timezone.now()
    long_ago = now - timedelta(days=30)
    breaking = make_credential(
        customer, testing_app, "a@example.com", consented_at=now - timedelta(days=5) - MINUTE
    )
    make_credential(
        customer, testing_app, "b@example.com", consented_at=now - timedelta(days=5) + MINUTE
    )
    # No consent recorded: the token's replacement is when it was granted.
    replaced = make_credential(
        customer,
        testing_app,
        "c@example.com",
        consented_at=None,
        refresh_token_replaced_at=now - timedelta(days=6),
        created_at=long_ago,
    )

    listed = {c.account_email: c.granted_at for c in grants_in_testing(now)}

    assert set(listed) == {"a@example.com", "c@example.com"}
    assert listed["a@example.com"] == breaking.consented_at
    assert listed["c@example.com"] == replaced.refresh_token_replaced_at


def test_a_published_google_app_s_grants_never_expire_by_this_rule(customer, google_app):
    google_app.publishing_status = "in_production"
    google_app.save()
    make_credential(
        customer, google_app, "a@example.com", consented_at=timezone.now() - timedelta(days=60)
    )

    assert list(grants_in_testing(timezone.now())) == []


@pytest.mark.clock
def test_a_microsoft_client_secret_is_listed_from_the_day_within_warning(microsoft_app, google_app):
    now = timezone.now()
    last_day_listed = timezone.localdate(now + timedelta(days=2))
    microsoft_app.client_secret_expires_on = last_day_listed
    microsoft_app.save()
    later = OAuthApp.objects.create(
        provider="microsoft",
        name="Later",
        client_id="later",
        client_secret="s",
        client_secret_expires_on=last_day_listed + timedelta(days=1),
    )
    OAuthApp.objects.filter(pk=google_app.pk).update(client_secret_expires_on=last_day_listed)

    assert expiring_client_secrets(now) == [microsoft_app]
    assert expiring_client_secrets(now + timedelta(days=1)) == [microsoft_app, later]


def test_a_microsoft_grant_is_listed_when_unused_for_nearly_90_days(customer, microsoft_app):
    now = timezone.now()
    old = now - timedelta(days=200)
    make_credential(
        customer,
        microsoft_app,
        "unused@contoso.example",
        last_used_at=now - timedelta(days=88) - MINUTE,
        consented_at=old,
        refresh_token_replaced_at=old,
        created_at=old,
    )
    make_credential(
        customer,
        microsoft_app,
        "used@contoso.example",
        last_used_at=now - timedelta(days=88) + MINUTE,
        consented_at=old,
        created_at=old,
    )
    # Never used by the portal, but granted again lately: the new token's 90 days count.
    make_credential(
        customer,
        microsoft_app,
        "regranted@contoso.example",
        last_used_at=None,
        consented_at=now - timedelta(days=10),
        created_at=old,
    )

    listed = {c.account_email: c.used_at for c in unused_grants(now)}

    assert list(listed) == ["unused@contoso.example"]


def test_a_subscription_is_listed_when_its_last_renewal_failed_and_it_lapses_within_warning(
    credential,
):
    now = timezone.now()

    def integration(lapses_in: timedelta, *renewals: str) -> Integration:
        raw = RawCalendar.objects.create(
            credential=credential, provider_id=str(uuid.uuid4()), listed_at=now
        )
        made = Integration.objects.create(
            credential=credential,
            raw_calendar=raw,
            remote_id=uuid.uuid4(),
            api_version="v2",
            provider="google",
            status="active",
            subscription_expires_at=now + lapses_in,
        )
        for state in renewals:
            job = BulkJob.objects.create(kind=BulkJob.Kind.RESUBSCRIBE, description="renewal")
            BulkJobItem.objects.create(job=job, integration=made, state=state)
        return made

    failed = integration(timedelta(days=2) - MINUTE, "done", "failed")
    not_fixed = integration(timedelta(hours=1), "not_fixed")
    integration(timedelta(days=2) + MINUTE, "failed")  # lapses after the horizon
    integration(timedelta(hours=1), "failed", "done")  # renewed since
    integration(timedelta(hours=1))  # not tried yet: the hourly renewal has it

    assert set(unrenewed_subscriptions(now)) == {failed, not_fixed}


@pytest.mark.clock
def test_the_lane_lists_every_rule_soonest_first_with_its_fix(
    role_client, customer, testing_app, microsoft_app
):
    now = timezone.now()
    grant = make_credential(
        customer, testing_app, "a@example.com", consented_at=now - timedelta(days=6)
    )
    microsoft_app.client_secret_expires_on = timezone.localdate(now)
    microsoft_app.save()

    found = expiring_soon(now)
    assert [(e.rule, e.breaks_at) for e in found.entries] == [
        ("client_secret_expiry", found.entries[0].breaks_at),
        ("testing_grant", grant.consented_at + timedelta(days=7)),
    ]
    assert found.total == 2

    page = role_client("Admin").get(reverse("admin:index")).content.decode()
    lane = page[page.index('id="expiring-soon"') :]
    assert "Expiring soon: 2" in page
    assert "Google app in Testing: the grant ends 7 days after consent" in lane
    assert "Microsoft client secret expires" in lane
    assert 'value="rotate_client_secret"' in lane
    assert 'value="create_reconsent_link"' in lane
    assert f'name="_selected_action" value="{grant.pk}"' in lane


def test_past_its_list_a_rule_is_counted_and_up_to_it_read(customer, testing_app):
    now = timezone.now()
    for n in range(3):
        make_credential(
            customer, testing_app, f"u{n}@example.com", consented_at=now - timedelta(days=6)
        )

    assert expiring_soon(now, limit=2).total == 3  # two listed, the third counted
    assert expiring_soon(now, limit=3).total == 3  # all three read


def test_the_lane_offers_no_fix_a_role_may_not_run(role_client, customer, testing_app):
    make_credential(
        customer, testing_app, "a@example.com", consented_at=timezone.now() - timedelta(days=6)
    )

    page = role_client("Auditor").get(reverse("admin:index")).content.decode()

    lane = page[page.index('id="expiring-soon"') :]
    assert "a@example.com" in lane and "create_reconsent_link" not in lane


@pytest.mark.clock
def test_the_lane_says_who_may_run_a_fix_the_role_may_not(
    role_client, customer, testing_app, microsoft_app
):
    make_credential(
        customer, testing_app, "a@example.com", consented_at=timezone.now() - timedelta(days=6)
    )
    microsoft_app.client_secret_expires_on = timezone.localdate()
    microsoft_app.save()

    page = role_client("Support").get(reverse("admin:index")).content.decode()

    lane = page[
        page.index('id="expiring-soon"') : page.index("</table>", page.index('id="expiring-soon"'))
    ]
    assert "Rotate client secret: by someone with the Admin role" in lane
    assert 'value="create_reconsent_link"' in lane  # Support's own fix stays a button
    assert lane.count('class="fixed-by"') == 1


def test_a_successful_listing_records_the_microsoft_tokens_last_use(
    sandbox, customer, microsoft_app, google_app
):
    microsoft = make_credential(customer, microsoft_app, "alice@contoso.example")
    Credential.objects.filter(pk=microsoft.pk).update(refresh_token="rt:alice@contoso.example")
    google = make_credential(customer, google_app, "alice@example.com")

    list_raw_calendars(Credential.objects.get(pk=microsoft.pk))
    list_raw_calendars(google)

    microsoft.refresh_from_db()
    google.refresh_from_db()
    assert microsoft.last_used_at is not None and microsoft.last_used_at > timezone.now() - MINUTE
    assert google.last_used_at is None


@pytest.mark.clock
def test_consent_time_is_editable_on_the_credential_form(role_client, sandbox, credential):
    url = reverse("admin:calendars_credential_change", args=[credential.pk])
    client = role_client("Admin")
    assert 'name="consented_at_0"' in client.get(url).content.decode()

    client.post(
        url,
        {
            "customer": credential.customer.pk,
            "oauth_app": credential.oauth_app.pk,
            "account_email": credential.account_email,
            "refresh_token": "",
            "consented_at_0": "2026-01-02",
            "consented_at_1": "10:30:00",
        },
    )

    credential.refresh_from_db()
    # typed in TIME_ZONE, stored in UTC
    assert credential.consented_at == timezone.make_aware(datetime(2026, 1, 2, 10, 30))


def test_a_new_credential_and_a_replaced_token_count_as_consent_now(
    role_client, sandbox, customer, google_app
):
    client = role_client("Admin")
    client.post(
        reverse("admin:calendars_credential_add"),
        {
            "customer": customer.pk,
            "oauth_app": google_app.pk,
            "account_email": "alice@example.com",
            "refresh_token": "1//refresh:alice@example.com",
        },
    )
    credential = Credential.objects.get()
    assert credential.consented_at > timezone.now() - MINUTE
    Credential.objects.filter(pk=credential.pk).update(
        consented_at=timezone.now() - timedelta(days=9)
    )

    client.post(
        reverse("admin:calendars_credential_changelist"),
        {
            "action": "replace_refresh_token",
            "_selected_action": credential.pk,
            "apply": "1",
            "refresh_token": "1//refresh2:alice@example.com",
        },
    )

    credential.refresh_from_db()
    assert credential.consented_at > timezone.now() - MINUTE


def test_google_apps_keep_no_secret_expiry_and_microsoft_apps_no_publishing_status(
    role_client, google_app, microsoft_app
):
    client = role_client("Admin")
    for app in (google_app, microsoft_app):
        client.post(
            reverse("admin:calendars_oauthapp_change", args=[app.pk]),
            {
                "name": app.name,
                "client_id": app.client_id,
                "client_secret": "",
                "tenant": "common",
                "publishing_status": "testing",
                "client_secret_expires_on": "2027-03-01",
            },
        )

    google_app.refresh_from_db()
    microsoft_app.refresh_from_db()
    assert (google_app.publishing_status, google_app.client_secret_expires_on) == ("testing", None)
    assert microsoft_app.publishing_status == ""
    assert str(microsoft_app.client_secret_expires_on) == "2027-03-01"
