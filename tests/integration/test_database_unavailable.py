"""While the database is unreachable, people get a plain 503 page and /healthz says so.

The database's failure is raised where a real outage raises it (the session read in a
middleware, a view's query, the health check's SELECT 1); tests/system/test_database_unreachable.py
does the same against a PostgreSQL made unreachable for real.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.db import InterfaceError, OperationalError
from django.test import Client

from calendars.actions import webhook_deliveries
from calendars.models import WebhookDelivery
from calendars.web import health, outage

MESSAGE = "The database is unavailable; try again in a minute."


def _gone(*args, **kwargs):
    raise OperationalError('connection to server at "127.0.0.1", port 5432 failed')


@pytest.mark.parametrize("error", [OperationalError, InterfaceError])
def test_a_database_error_in_a_middleware_is_a_plain_503(db, settings, monkeypatch, error):
    settings.DEBUG = False
    client = Client(raise_request_exception=False)
    client.force_login(_admin())

    def lost(*args, **kwargs):
        raise error("the connection is closed")

    monkeypatch.setattr(SessionStore, "load", lost)
    response = client.get("/admin/")

    assert response.status_code == 503
    assert response["Retry-After"] == "60"
    text = response.content.decode()
    assert MESSAGE in text
    assert "Traceback" not in text and "OperationalError" not in text


def test_a_database_error_in_a_view_is_a_plain_503_even_in_debug(client, db, settings, monkeypatch):
    settings.DEBUG = True
    monkeypatch.setattr("calendars.consent.links.find", _gone)

    response = client.get("/connect/some-token/")

    assert response.status_code == 503
    assert MESSAGE in response.content.decode()


def test_other_errors_keep_djangos_500_page(rf, settings):
    settings.DEBUG = False
    try:
        raise ValueError("a bug")
    except ValueError:
        response = outage.server_error(rf.get("/admin/"))

    assert response.status_code == 500
    assert MESSAGE not in response.content.decode()


def test_healthz_says_the_database_is_unavailable(client, db, monkeypatch):
    monkeypatch.setattr(health, "connection", SimpleNamespace(cursor=_gone, vendor="postgresql"))

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"]["ok"] is False
    assert body["message"] == "the database is unavailable; try again in a minute"
    assert all(check["ok"] is False for check in body["checks"].values())


def _admin():
    return get_user_model().objects.create_superuser("outage-admin", password="pw")


def test_a_delivery_whose_handler_fails_with_the_connection_gone_stays_pending(
    make_integration, monkeypatch
):
    integration = make_integration()
    delivery = WebhookDelivery.objects.create(
        api_version="v2",
        event="calendar.connection_updated",
        delivery_id="msg_connection_gone",
        payload={"event": "calendar.connection_updated", "data": {"status": "active"}},
        remote_id=integration.remote_id,
    )

    def broken(integration, delivery):
        # What a driver may raise when the server goes away mid-query, under another name.
        raise ValueError("no message from the server")

    monkeypatch.setitem(webhook_deliveries.HANDLERS["v2"], "calendar.connection_updated", broken)
    monkeypatch.setattr(webhook_deliveries.connection, "is_usable", lambda: False)
    with pytest.raises(OperationalError):
        webhook_deliveries.process(delivery.pk)
    monkeypatch.undo()

    delivery.refresh_from_db()
    assert delivery.outcome == WebhookDelivery.Outcome.PENDING
