"""Every line a real gunicorn of the portal writes is JSON (its own lines, its access log,
Django's), with the request id where there is one, and no consent token or OAuth code or state."""

from __future__ import annotations

import json

import pytest
import requests

from tests.support.gunicorn import Web

TOKEN = "Zk3" + "q" * 40
CODE, STATE = "4/0AeanS0-secret-code", "st4te-secret-value"


@pytest.mark.slow
@pytest.mark.once  # the web process's log lines do not depend on the database engine
@pytest.mark.django_db(transaction=True)
def test_every_line_of_the_web_process_is_json_with_its_request_id_and_no_secret():
    web = Web(production=True, LOG_FORMAT="json")
    try:
        probe = requests.get(
            f"{web.url}/healthz/live", headers={"X-Request-ID": "probe-1"}, timeout=10
        )
        missing = requests.get(f"{web.url}/connect/{TOKEN}/", timeout=10)
        callback = requests.get(
            f"{web.url}/connect/callback/", params={"code": CODE, "state": STATE}, timeout=10
        )
    finally:
        written = web.stop()  # its lines up to its last, "Shutting down"

    lines = [json.loads(line) for line in written.splitlines() if line.strip()]
    assert probe.headers["X-Request-ID"] == "probe-1" and missing.status_code == 404
    by_logger = {line["logger"] for line in lines}
    assert {"gunicorn.error", "gunicorn.access", "django.request"} <= by_logger
    access = {line["request_id"]: line for line in lines if line["logger"] == "gunicorn.access"}
    for response in (probe, missing, callback):
        assert response.headers["X-Request-ID"] in access
    assert "/healthz/live" in access["probe-1"]["message"]
    # Django's "Not Found" is written after the request's middleware returned: still its id.
    (not_found,) = [line for line in lines if line["message"].startswith("Not Found")]
    assert not_found["request_id"] == missing.headers["X-Request-ID"]
    assert not_found["message"] == "Not Found: /connect/[redacted]/"
    for secret in (TOKEN, CODE, STATE):
        assert secret not in written
