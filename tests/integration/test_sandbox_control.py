"""The sandbox's control API: a request log without secrets, loopback Hosts, JSON-only POSTs.

The sandbox runs on developers' machines beside their browser: a web page may POST a "simple"
(text/plain or form) request to 127.0.0.1 without a preflight, or rebind its own DNS name to
127.0.0.1 and read the answers. Neither may read secrets from it or reset it.
"""

from __future__ import annotations

import dataclasses

import requests

from calendars.meetingbaas.transport import Transport
from calendars.meetingbaas.types import OAuthGrant, Platform
from calendars.meetingbaas.v1 import V1Client
from calendars.meetingbaas.v2 import V2Client

SECRET = "GOCSPX-sandbox-secret-do-not-show"
TOKEN = "1//sandbox-token-do-not-show:alice@example.com"
NEW_TOKEN = "1//sandbox-new-token-do-not-show:alice@example.com"
GRANT = OAuthGrant(Platform.GOOGLE, "cid.apps.googleusercontent.com", SECRET, TOKEN)


def port_of(sandbox) -> int:
    return sandbox.server.httpd.server_address[1]


def post(sandbox, path: str, host: str | None = None, **options: object) -> requests.Response:
    headers = options.pop("headers", {})
    if host is not None:
        headers["Host"] = host
    return requests.post(f"{sandbox.url}{path}", headers=headers, timeout=5, **options)


def test_the_request_log_shows_no_secret_from_bodies_headers_or_queries(sandbox):
    for client in (V2Client, V1Client):
        api = client(Transport(sandbox.transport_config()))
        created = api.create_connection(GRANT, "alice@example.com")
        api.update_credentials(created.remote_id, GRANT)
    requests.get(
        f"{sandbox.url}/v2/calendars",
        params={"api_key": "query-key-do-not-show", "limit": "5"},
        headers={"x-meeting-baas-api-key": "test-key", "Authorization": "Bearer do-not-show"},
        timeout=5,
    )

    log = requests.get(f"{sandbox.url}/_sandbox/requests", timeout=5)

    text = log.text
    for secret in (SECRET, TOKEN, "test-key", "query-key-do-not-show", "Bearer do-not-show"):
        assert secret not in text
    entries = log.json()
    assert {e["path"] for e in entries} >= {"/v2/calendars", "/calendars/"}  # writes were logged
    create = sandbox.requests_to("POST", "/v2/calendars")[0]
    assert create["json"]["oauth_client_id"] == GRANT.client_id  # what is not secret stays
    assert create["json"]["oauth_client_secret"] == "[redacted]"
    assert create["json"]["oauth_refresh_token"] == "[redacted]"
    assert create["headers"]["x-meeting-baas-api-key"] == "[redacted]"
    assert entries[-1]["query"] == {"api_key": "[redacted]", "limit": "5"}


def test_a_connection_holds_the_credentials_it_was_last_sent_and_never_serves_them(sandbox):
    api = V2Client(Transport(sandbox.transport_config()))
    created = api.create_connection(GRANT, "alice@example.com")
    assert sandbox.connection(created.remote_id).refresh_token == TOKEN

    api.update_credentials(created.remote_id, dataclasses.replace(GRANT, refresh_token=NEW_TOKEN))

    held = sandbox.connection(created.remote_id)
    assert (held.client_id, held.client_secret, held.refresh_token) == (
        GRANT.client_id,
        SECRET,
        NEW_TOKEN,
    )
    served = requests.get(f"{sandbox.url}/_sandbox/connections", timeout=5).text
    assert str(created.remote_id) in served
    assert SECRET not in served and NEW_TOKEN not in served and NEW_TOKEN not in repr(held)


def test_a_foreign_host_can_neither_reset_the_sandbox_nor_read_it(sandbox):
    created = V2Client(Transport(sandbox.transport_config())).create_connection(
        GRANT, "alice@example.com"
    )
    port = port_of(sandbox)

    for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1:{port + 1}"):
        reset = post(sandbox, "/_sandbox/reset", host, json={})
        read = requests.get(f"{sandbox.url}/_sandbox/requests", headers={"Host": host}, timeout=5)
        api = requests.get(
            f"{sandbox.url}/v2/calendars",
            headers={"Host": host, "x-meeting-baas-api-key": "test-key"},
            timeout=5,
        )
        assert (reset.status_code, read.status_code, api.status_code) == (403, 403, 403), host
        assert "answers to 127.0.0.1:" in reset.json()["message"]
    assert sandbox.connection(created.remote_id)  # never reset


def test_loopback_names_with_the_sandbox_port_are_served(sandbox):
    port = port_of(sandbox)

    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", f"LOCALHOST:{port}"):
        assert post(sandbox, "/_sandbox/reset", host, json={}).status_code == 200, host


def test_a_control_post_that_is_not_json_is_refused(sandbox):
    created = V2Client(Transport(sandbox.transport_config())).create_connection(
        GRANT, "alice@example.com"
    )
    # What a cross-origin page can send without a preflight: text/plain, a form, or nothing.
    simple_requests = [
        {"data": "{}", "headers": {"Content-Type": "text/plain"}},
        {"data": {"status": "error"}},
        {"data": b"{}"},
    ]

    for options in simple_requests:
        reset = post(sandbox, "/_sandbox/reset", **options)
        forced = post(sandbox, f"/_sandbox/connections/{created.remote_id}", **options)
        assert (reset.status_code, forced.status_code) == (415, 415), options
        assert "application/json" in reset.json()["message"]
    assert sandbox.connection(created.remote_id).status == "active"
    assert post(
        sandbox,
        "/_sandbox/reset",
        data="{}",
        headers={"Content-Type": "application/json; charset=utf-8"},
    ).json() == {"reset": True}
