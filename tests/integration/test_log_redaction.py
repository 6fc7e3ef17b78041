"""No log line carries a live consent token or an OAuth code or state: not gunicorn's access log
(as the Procfile runs it), not Django's "Not Found" warnings, not the development server's."""

from __future__ import annotations

import io
import logging
import re

import pytest
import requests
from django.test import Client
from django.urls import reverse

from calendars.lib.log_redaction import redact
from calendars.models import ConsentLink
from tests.support.consent import Person, point_providers_at, token_of
from tests.support.gunicorn import gunicorn

CODE, STATE = "4/0AeanS0-secret-code", "st4te-secret-value"


@pytest.fixture
def link(role_client, credential, settings, sandbox) -> tuple[ConsentLink, str]:
    point_providers_at(settings, sandbox)
    response = role_client("Support").post(
        reverse("admin:calendars_consentlink_reconsent", args=[credential.pk])
    )
    url = re.search(r'id="consent-url"[^>]*>([^<]+)<', response.content.decode()).group(1)
    return ConsentLink.objects.get(credential=credential), token_of(url)


@pytest.fixture
def portal_log() -> io.StringIO:
    """What the portal's own log handler (its settings' LOGGING) writes, for this test."""
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    written = io.StringIO()
    previous = handler.setStream(written)
    yield written
    handler.setStream(previous)


def test_a_whole_consent_flow_leaves_no_token_code_or_state_in_the_portals_log(
    link, portal_log, caplog
):
    _, token = link
    person = Person(Client())
    caplog.set_level(logging.INFO)

    person.open(token)
    person.client.get(f"/connect/{token}/zoom/")  # Django's "Not Found" warning names the path
    person.grant(token)
    person.client.get("/connect/callback/", {"code": CODE, "state": STATE})

    written = portal_log.getvalue()
    assert "Not Found: /connect/[redacted]/zoom/" in written
    for secret in (token, CODE, STATE):
        assert secret not in written


@pytest.mark.once  # gunicorn's access log does not depend on the database engine
@pytest.mark.django_db(transaction=True)
def test_gunicorns_access_log_redacts_the_token_and_the_oauth_parameters():
    token = "Zk3" + "q" * 40
    with gunicorn() as web:
        url = web.url
        requests.get(f"{url}/connect/{token}/", timeout=10)
        requests.get(
            f"{url}/connect/callback/",
            params={"code": CODE, "state": STATE},
            headers={"Referer": f"https://portal.example/connect/{token}/google/"},
            timeout=10,
        )
        requests.get(f"{url}/healthz", timeout=10)
        written = web.output()

    assert '"GET /connect/[redacted]/ HTTP/1.1" 404' in written
    assert "/connect/callback/?code=[redacted]&state=[redacted]" in written
    for secret in (token, CODE, STATE):
        assert secret not in written


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("GET /connect/abc_DEF-123/ HTTP/1.1", "GET /connect/[redacted]/ HTTP/1.1"),
        ("Not Found: /connect/abc/zoom/", "Not Found: /connect/[redacted]/zoom/"),
        (
            "/connect/callback/?state=s&code=c&x=1",
            "/connect/callback/?state=[redacted]&code=[redacted]&x=1",
        ),
        ("GET /connect/retry/ HTTP/1.1", "GET /connect/retry/ HTTP/1.1"),
        ("GET /connect/retryABC/ HTTP/1.1", "GET /connect/[redacted]/ HTTP/1.1"),
        ("GET /connect/retry-AB/ HTTP/1.1", "GET /connect/[redacted]/ HTTP/1.1"),
        ("GET /connect/callback-AB/ HTTP/1.1", "GET /connect/[redacted]/ HTTP/1.1"),
        ("id_token=eyJ.a.b refresh_token=1//x", "id_token=[redacted] refresh_token=[redacted]"),
        ("/admin/calendars/", "/admin/calendars/"),
    ],
)
def test_what_redact_takes_out(line, expected):
    assert redact(line) == expected
