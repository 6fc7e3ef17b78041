"""Every bulk job's description names its target as the fixes started from a list do:
"2 integrations of Acme Corp", or "… of 2 customers"."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from calendars.actions.credentials import replace_refresh_token, rotate_client_secret
from calendars.actions.integrations import create_integration
from calendars.actions.subscriptions import renew_expiring_subscriptions
from calendars.models import Credential, Customer, Integration, RawCalendar


def test_a_replaced_refresh_token_job_names_its_integrations_and_customer(
    admin_client, admin_user, sandbox, make_integration, credential
):
    make_integration()
    make_integration("alice.team@group.calendar.google.com")

    replaced = replace_refresh_token(
        credential.pk, "1//new:alice@example.com", acting_user=admin_user
    )

    expected = (
        "Push new OAuth credentials: new refresh token of alice@example.com "
        "for 2 integrations of Acme Corp"
    )
    assert str(replaced.job) == expected
    assert (
        expected in admin_client.get(reverse("admin:calendars_bulkjob_changelist")).content.decode()
    )


def test_a_rotated_client_secret_job_counts_the_customers_it_reaches(
    admin_user, sandbox, make_integration, google_app
):
    make_integration()
    globex = Credential.objects.create(
        customer=Customer.objects.create(name="Globex", external_ref="globex"),
        oauth_app=google_app,
        account_email="bob@globex.example",
        refresh_token="1//refresh:bob@globex.example",
    )
    raw = RawCalendar.objects.create(
        credential=globex, provider_id="bob@globex.example", listed_at=timezone.now()
    )
    create_integration(raw)

    rotated = rotate_client_secret(google_app.pk, "rotated", acting_user=admin_user)

    assert str(rotated.job) == (
        "Push new OAuth credentials: new client secret of Acme Google "
        "for 2 integrations of 2 customers"
    )


def test_a_scheduled_renewal_job_names_its_integration_and_customer(
    sandbox, make_integration, settings
):
    integration = make_integration()
    Integration.objects.filter(pk=integration.pk).update(
        status="active", subscription_expires_at=timezone.now() + timedelta(hours=1)
    )

    job = renew_expiring_subscriptions()

    assert str(job) == (
        "Renew push subscription: 1 integration of Acme Corp, "
        f"lapsing within {settings.SUBSCRIPTION_RENEW_HOURS} h (scheduled)"
    )
