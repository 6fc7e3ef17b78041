"""Bad input from people and odd answers from the API: a clear error or a faithful record."""

from __future__ import annotations

import threading
import time
from datetime import datetime

import pytest
from django.db import connection
from django.urls import reverse

from calendars.actions.refresh import refresh_integration
from calendars.models import Customer, OAuthApp
from tests.integration.test_webhook_receiver import updated
from tests.support.webhook_signing import post_v2


@pytest.mark.parametrize(
    ("url_name", "data", "field"),
    [
        ("customer_add", {"name": "Acme\x07Bell"}, "name"),
        ("customer_add", {"name": "x" * 10_000}, "name"),
        (
            "oauthapp_add",
            {
                "provider": "google",
                "name": "ok",
                "client_id": "id\tx",
                "client_secret": "s",
                "tenant": "common",
            },
            "client_id",
        ),
        (
            "oauthapp_add",
            {
                "provider": "google",
                "name": "ok",
                "client_id": "c" * 10_000,
                "client_secret": "s",
                "tenant": "common",
            },
            "client_id",
        ),
        (
            "oauthapp_add",
            {
                "provider": "microsoft",
                "name": "ok",
                "client_id": "c",
                "client_secret": "s",
                "tenant": "contoso",
            },
            "tenant",
        ),
    ],
)
def test_bad_form_input_is_a_field_error_and_nothing_is_saved(admin_client, url_name, data, field):
    response = admin_client.post(reverse(f"admin:calendars_{url_name}"), data)

    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not Customer.objects.exists() and not OAuthApp.objects.exists()


@pytest.mark.parametrize(
    "email",
    ["<script>alert(1)</script>@example.com", "alice@exam\tple.com", "x" * 300 + "@example.com"],
)
def test_a_bad_account_email_is_refused(admin_client, customer, google_app, email):
    data = {
        "customer": customer.pk,
        "oauth_app": google_app.pk,
        "account_email": email,
        "refresh_token": "t",
    }

    response = admin_client.post(reverse("admin:calendars_credential_add"), data)

    assert response.status_code == 200
    assert "account_email" in response.context["adminform"].form.errors


def test_html_in_a_customer_name_is_escaped_wherever_it_shows(
    admin_client, sandbox, make_integration, customer
):
    customer.name = '<img src=x onerror="alert(1)">'
    customer.save()
    integration = make_integration()
    sandbox.force(integration.remote_id, status="error", status_message="<b>bold</b> message")
    refresh_integration(integration.pk)

    pages = [
        reverse("admin:index"),
        reverse("admin:calendars_integration_changelist"),
        reverse("admin:calendars_integration_change", args=[integration.pk]),
        reverse("admin:calendars_customer_changelist"),
    ]
    for url in pages:
        html = admin_client.get(url).content.decode()
        assert '<img src=x onerror="alert(1)">' not in html, url
        assert "<b>bold</b>" not in html, url


def test_an_unknown_remote_status_is_stored_raw_and_shown(admin_client, sandbox, make_integration):
    integration = make_integration()
    sandbox.force(integration.remote_id, status="paused")

    refresh_integration(integration.pk)

    integration.refresh_from_db()
    assert (integration.status, integration.remote_status) == ("error", "paused")
    page = admin_client.get(
        reverse("admin:calendars_integration_change", args=[integration.pk])
    ).content.decode()
    assert "unknown status &#x27;paused&#x27;" in page


def test_nulls_and_extra_fields_in_an_answer_do_not_crash(sandbox, make_integration):
    integration = make_integration()
    odd = {
        "account_email": None,
        "status_message": None,
        "calendar_platform": None,
        "brand_new_field": {"x": 1},
    }
    sandbox.fault("GET", "/v2/calendars/.+", "patched", patch=odd)

    refresh_integration(integration.pk)

    integration.refresh_from_db()
    assert integration.status in ("syncing", "active")


@pytest.mark.django_db(transaction=True)
def test_a_slow_refresh_does_not_undo_a_newer_webhook(client, sandbox, make_integration):
    integration = make_integration()
    sandbox.force(integration.remote_id, status="error", status_message="old news")
    sandbox.fault("GET", "/v2/calendars/.+", "slow", delay=1.0)  # answers the state it read first
    refresher = threading.Thread(
        target=lambda: (refresh_integration(integration.pk), connection.close())
    )
    refresher.start()
    time.sleep(0.3)
    newer = sandbox.force(integration.remote_id, status="active", synced=True)

    post_v2(client, updated(integration, "active", datetime.fromisoformat(newer["updated_at"])))
    refresher.join()

    integration.refresh_from_db()
    assert integration.status in ("syncing", "active")  # the webhook's newer state, not "error"
    assert not integration.status_changes.filter(to_status="error").exists()
