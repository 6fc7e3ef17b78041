"""Secrets (client secrets, refresh tokens, the API key) never come back out of the portal.

Each test would fail if a secret, or its ciphertext, showed up where it is checked.
"""

from __future__ import annotations

import io
import logging
import pickle

import pytest
import requests
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django_q.conf import Conf
from django_q.models import OrmQ, Task
from django_q.signing import SignedPackage

from calendars import queue, tasks
from calendars.actions.credentials import list_raw_calendars
from calendars.admin.accounts import OAuthAppAdmin
from calendars.models import Credential, OAuthApp, RawCalendar
from tests.support.webhook_signing import post_v2

CLIENT_SECRET = "GOCSPX-client-secret-do-not-leak"
REFRESH_TOKEN = "1//refresh-token-do-not-leak:alice@example.com"
NEW_TOKEN = "1//replacement-token-do-not-leak:alice@example.com"


@pytest.fixture
def world(admin_client, sandbox, customer):
    """Every kind of row the portal writes, made through the admin as people would."""
    app_form = {
        "provider": "google",
        "name": "Leak test app",
        "client_id": "leak.apps.googleusercontent.com",
        "client_secret": CLIENT_SECRET,
        "tenant": "common",
    }
    admin_client.post(reverse("admin:calendars_oauthapp_add"), app_form)
    app = OAuthApp.objects.get(name="Leak test app")
    credential_form = {
        "customer": customer.pk,
        "oauth_app": app.pk,
        "account_email": "alice@example.com",
        "refresh_token": REFRESH_TOKEN,
    }
    admin_client.post(reverse("admin:calendars_credential_add"), credential_form)
    credential = Credential.objects.get()
    changelist = reverse("admin:calendars_credential_changelist")
    admin_client.post(
        changelist, {"action": "list_raw_calendars", "_selected_action": [credential.pk]}
    )
    raw = RawCalendar.objects.filter(credential=credential).first()
    admin_client.post(
        reverse("admin:calendars_rawcalendar_changelist"),
        {"action": "create_integration", "_selected_action": [raw.pk]},
    )
    admin_client.post(
        changelist,
        {
            "action": "replace_refresh_token",
            "_selected_action": [credential.pk],
            "apply": "1",
            "refresh_token": NEW_TOKEN,
        },
    )
    integration = credential.integrations.get()
    admin_client.post(
        reverse("admin:calendars_integration_changelist"),
        {"action": "refresh_status", "_selected_action": [integration.pk]},
    )
    post_v2(
        admin_client,
        {"event": "calendar.event_created", "data": {"calendar_id": str(integration.remote_id)}},
    )
    credential.refresh_from_db()
    app.refresh_from_db()
    return {"app": app, "credential": credential, "integration": integration, "raw": raw}


def forbidden(world) -> list[str]:
    """The secrets in clear and as stored: neither may appear anywhere."""
    return [
        CLIENT_SECRET,
        REFRESH_TOKEN,
        NEW_TOKEN,
        "test-key",  # the API key the tests run with
        world["app"].client_secret.token,
        world["credential"].refresh_token.token,
    ]


def assert_clean(text: str, world, where: str) -> None:
    for secret in forbidden(world):
        assert secret not in text, f"a secret leaked into {where}"


def admin_pages(world) -> list[str]:
    app, credential, integration, raw = (
        world["app"],
        world["credential"],
        world["integration"],
        world["raw"],
    )
    pages = [
        reverse(f"admin:calendars_{name}_changelist")
        for name in (
            "customer",
            "oauthapp",
            "credential",
            "rawcalendar",
            "integration",
            "statuschange",
            "webhookdelivery",
            "actionrecord",
        )
    ]
    for name, obj in (
        ("oauthapp", app),
        ("credential", credential),
        ("integration", integration),
        ("rawcalendar", raw),
    ):
        pages += [
            reverse(f"admin:calendars_{name}_change", args=[obj.pk]),
            reverse(f"admin:calendars_{name}_history", args=[obj.pk]),
            reverse(f"admin:calendars_{name}_delete", args=[obj.pk]),
        ]
    pages += [
        reverse("admin:calendars_customer_change", args=[credential.customer.pk]),
        reverse("admin:calendars_customer_delete", args=[credential.customer.pk]),
        reverse("admin:calendars_history_export") + "?download=1",
        reverse("admin:django_q_success_changelist"),
        reverse("admin:django_q_failure_changelist"),
        reverse("admin:index"),
    ]
    return pages


def page_text(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


@pytest.mark.parametrize("role", ["superuser", "Admin", "Support", "Auditor"])
def test_no_admin_page_shows_a_secret_to_any_role(world, role):
    client = Client()
    user = get_user_model().objects.create_user(
        f"viewer-{role}", password="pw", is_superuser=role == "superuser", is_staff=True
    )
    if role != "superuser":
        call_command("assign_role", user.username, role, stdout=io.StringIO())
    client.force_login(user)

    for url in admin_pages(world):
        response = client.get(url)
        assert response.status_code in (200, 302, 403), url
        assert_clean(page_text(response), world, f"{url} as {role}")


def test_logs_hold_no_secret_at_any_level(world, admin_client, sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    credential = world["credential"]
    sandbox.fault("POST", "/v2/calendars/list-raw", "status", status=500, count=10)
    admin_client.post(
        reverse("admin:calendars_credential_changelist"),
        {"action": "list_raw_calendars", "_selected_action": [credential.pk]},
    )
    credential.refresh_token = "revoked-" + REFRESH_TOKEN
    credential.save()
    with pytest.raises(Exception):  # noqa: B017 - whichever error: the logs are what is checked
        list_raw_calendars(Credential.objects.get())
    admin_client.post(
        reverse("admin:calendars_oauthapp_add"),
        {"provider": "google", "name": "", "client_secret": CLIENT_SECRET},
    )

    assert caplog.records, "nothing was logged: the check would prove nothing"
    assert_clean(caplog.text, world, "the logs")
    assert "revoked-" + REFRESH_TOKEN not in caplog.text


def test_the_sandbox_request_log_holds_no_secret(world, sandbox):
    log = requests.get(f"{sandbox.url}/_sandbox/requests", timeout=5).text

    assert '"oauth_refresh_token": "[redacted]"' in log  # the creates and pushes were logged
    assert_clean(log, world, "the sandbox's request log")


def test_queue_rows_hold_no_secret(world, monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", False)
    queue.enqueue("refresh_integration", world["integration"].pk, group="refresh")
    tasks.refresh_all_integrations()

    stored = []
    for task in Task.objects.all():
        stored += [
            repr(task.args),
            repr(task.kwargs),
            repr(task.result),
            pickle.dumps(task.args).hex(),
        ]
    for message in OrmQ.objects.all():
        stored.append(repr(SignedPackage.loads(message.payload)))
    assert Task.objects.exists() and OrmQ.objects.exists()
    assert_clean("\n".join(stored), world, "django-q2 rows")


def test_history_rows_and_every_table_hold_no_secret_in_clear(world):
    cells = []
    for table in connection.introspection.table_names():
        if table.startswith(("calendars_historical", "django_admin_log", "django_q")):
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
                cells += [str(cell) for row in cursor.fetchall() for cell in row]
    assert any("Leak test app" in cell for cell in cells)  # the scan reached real rows
    assert_clean("\n".join(cells), world, "history, admin log or queue tables")


def test_an_error_page_hides_posted_secrets(world, settings, monkeypatch):
    settings.DEBUG = True
    admin = get_user_model().objects.create_superuser("crash", "c@example.com", "pw")
    client = Client(raise_request_exception=False)
    client.force_login(admin)

    def explode(*args, **kwargs):
        raise RuntimeError("boom while saving")

    monkeypatch.setattr(OAuthAppAdmin, "save_model", explode)
    response = client.post(
        reverse("admin:calendars_oauthapp_add"),
        {
            "provider": "google",
            "name": "Crash",
            "client_id": "c",
            "client_secret": CLIENT_SECRET,
            "tenant": "common",
        },
    )

    assert response.status_code == 500
    text = response.content.decode()
    assert "boom while saving" in text  # the technical page was rendered
    assert CLIENT_SECRET not in text
