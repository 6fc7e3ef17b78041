"""The auditors' export tells the whole story: customers' and OAuth apps' changes, and every id
beside what a person knows it by (customer, calendar, Meeting BaaS id, account e-mail, app)."""

from __future__ import annotations

import csv
import io

from django.urls import reverse

from calendars.actions.audit import record_action
from calendars.actions.refresh import refresh_integration

EXPORT = reverse("admin:calendars_history_export")


def export(client, **params) -> list[dict]:
    response = client.get(EXPORT, {"download": "1", **params})
    assert response.status_code == 200 and response.streaming
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_creating_two_apps_and_a_customer_adds_their_rows(admin_client, admin_user, role_client):
    for name in ("Contoso Google", "Contoso Entra"):
        added = admin_client.post(
            reverse("admin:calendars_oauthapp_add"),
            {
                "provider": "google",
                "name": name,
                "client_id": f"{name}.apps.googleusercontent.com",
                "client_secret": "s3cr3t-value",
                "tenant": "common",
            },
        )
        assert added.status_code == 302, added.content
    added = admin_client.post(
        reverse("admin:calendars_customer_add"),
        {"name": "Contoso", "external_ref": "contoso", "outreach": "off"},
    )
    assert added.status_code == 302, added.content

    rows = export(role_client("Auditor"))

    created = [
        (r["summary"], r["OAuth app"], r["customer"], r["user"])
        for r in rows
        if not r["summary"].startswith("give role")  # the auditor's own role, given for the test
    ]
    assert created == [
        ("OAuth app created", "Contoso Google", "", admin_user.username),
        ("OAuth app created", "Contoso Entra", "", admin_user.username),
        ("customer created", "", "Contoso", admin_user.username),
    ]
    assert "s3cr3t-value" not in str(rows)


def test_a_renamed_customer_shows_its_names_before_and_after(admin_client, customer):
    url = reverse("admin:calendars_customer_change", args=[customer.pk])
    data = {"name": "Acme Corporation", "external_ref": "acme", "notes": "", "outreach": "off"}
    assert admin_client.post(url, data).status_code == 302

    rows = export(admin_client, customer=customer.pk)

    renamed = next(r for r in rows if r["summary"] == "customer changed")
    assert (renamed["field"], renamed["before"], renamed["after"]) == (
        "name",
        "Acme Corp",
        "Acme Corporation",
    )


def test_every_row_about_an_integration_names_it(admin_client, sandbox, make_integration):
    integration = make_integration()
    sandbox.force(integration.remote_id, status="error", status_message="Quota exceeded")
    refresh_integration(integration.pk)

    rows = export(admin_client, integration=integration.pk)

    assert {r["kind"] for r in rows} == {"status", "action", "change"}
    for row in rows:
        assert row["customer"] == "Acme Corp", row
        assert row["calendar"] == "Cal alice@example.com", row
        assert row["Meeting BaaS id"] == str(integration.remote_id), row
        assert row["account e-mail"] == "alice@example.com", row
        assert row["OAuth app"] == "Acme Google", row
        assert row["credential"] == str(integration.credential_id), row


def test_an_action_on_an_app_names_the_app(admin_client, admin_user, google_app):
    record_action(admin_user, "rotate client secret", succeeded=True, oauth_app=google_app)

    rows = export(admin_client)

    action = next(r for r in rows if r["kind"] == "action")
    assert action["summary"] == "rotate client secret (done)"
    assert action["OAuth app"] == "Acme Google"


def test_app_changes_stay_out_of_a_customers_export(admin_client, customer, google_app):
    everything = export(admin_client)
    customers = export(admin_client, customer=customer.pk)

    assert {r["summary"] for r in everything} == {"customer created", "OAuth app created"}
    assert [r["summary"] for r in customers] == ["customer created"]
