"""Logs: a request id on every line, following an action into its tasks; JSON in production."""

from __future__ import annotations

import json
import logging

from django.urls import reverse

from calendars.lib.request_ids import RequestIdFilter


def test_a_request_id_follows_an_action_into_its_task(
    admin_client, sandbox, make_integration, caplog
):
    integration = make_integration()
    caplog.set_level(logging.INFO)
    caplog.handler.addFilter(RequestIdFilter())
    caplog.clear()

    response = admin_client.post(
        reverse("admin:calendars_integration_changelist"),
        {"action": "refresh_status", "_selected_action": [integration.pk]},
        HTTP_X_REQUEST_ID="req-abc123",
    )

    assert response["X-Request-ID"] == "req-abc123"
    in_task = [r for r in caplog.records if r.name == "calendars.meetingbaas.transport"]
    assert in_task and all(r.request_id == "req-abc123" for r in in_task)


def test_a_malformed_request_id_is_replaced(client, db):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="evil\nheader injection")

    assert response["X-Request-ID"] != "evil\nheader injection"
    assert len(response["X-Request-ID"]) == 32


def test_the_json_format_is_one_object_per_line(settings):
    from pythonjsonlogger.json import JsonFormatter

    config = settings.LOGGING["formatters"]["json"]
    formatter = JsonFormatter(fmt=config["fmt"], rename_fields=config["rename_fields"])
    record = logging.LogRecord("calendars", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    RequestIdFilter().filter(record)

    line = json.loads(formatter.format(record))

    assert (
        line["message"] == "hello world" and line["level"] == "INFO" and line["request_id"] == "-"
    )
