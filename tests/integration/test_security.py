"""Security settings: the deploy checklist, CSP, and throttled logins."""

from __future__ import annotations

import os
import subprocess
import sys

from cryptography.fernet import Fernet
from django.test import Client
from django.urls import reverse

from tests.system.test_settings import POSTGRES, ROOT

LOGIN = reverse("admin:login")


def test_check_deploy_passes_with_production_settings(tmp_path):
    env = {
        k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")
    }
    env |= {
        "DEBUG": "false",
        "SECRET_KEY": "k" * 10 + Fernet.generate_key().decode(),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "MEETINGBAAS_API_KEY": "live-key",
        "ALLOWED_HOSTS": "portal.example.com",
        "PORTAL_VAR_DIR": str(tmp_path),
        "DATABASE_URL": POSTGRES,
        "MEETINGBAAS_WEBHOOK_SECRET": "whsec_c2VjcmV0LW9mLXRoZS1lbmRwb2ludA==",
        "PORTAL_PUBLIC_URL": "https://portal.example.com",
        "PORTAL_COMPANY_NAME": "Example Ltd",
        "TRUST_X_FORWARDED_PROTO": "true",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_pages_carry_a_content_security_policy(admin_client):
    response = admin_client.get(reverse("admin:index"))

    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert response["X-Frame-Options"] == "DENY"


def test_repeated_failed_logins_lock_the_account_out(client, django_user_model, settings):
    django_user_model.objects.create_user("victim", password="right-password", is_staff=True)

    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(LOGIN, {"username": "victim", "password": "wrong"})
    locked = client.post(LOGIN, {"username": "victim", "password": "right-password"})

    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_few_mistakes_then_the_right_password_logs_in(client, django_user_model):
    django_user_model.objects.create_user("typo", password="right-password", is_staff=True)

    for _ in range(2):
        client.post(LOGIN, {"username": "typo", "password": "wrong"})
    response = client.post(LOGIN, {"username": "typo", "password": "right-password"})

    assert response.status_code == 302
    assert "_auth_user_id" in client.session


# Addresses as a load balancer at 10.0.0.2 passes them on: X-Forwarded-For ends with the
# address it was connected from; anything before that is whatever the client sent.
LOAD_BALANCER = "10.0.0.2"
CLIENT_A = "198.51.100.7"
CLIENT_B = "203.0.113.9"


def post_login(client, password: str, remote: str, forwarded_for: str):
    return client.post(
        LOGIN,
        {"username": "shared", "password": password},
        REMOTE_ADDR=remote,
        HTTP_X_FORWARDED_FOR=forwarded_for,
    )


def test_behind_a_load_balancer_a_lockout_holds_one_client_not_everyone(
    client, django_user_model, settings
):
    settings.TRUSTED_PROXY_COUNT = 1
    django_user_model.objects.create_user("shared", password="right-password", is_staff=True)
    # Each failure forges a different left-most entry, once naming client B: neither dodges
    # A's lockout nor counts against B.
    forged = ["192.0.2.1", "192.0.2.2", CLIENT_B, "unknown", "2001:db8::1"]

    for entry in forged[: settings.AXES_FAILURE_LIMIT]:
        post_login(client, "wrong", LOAD_BALANCER, f"{entry}, {CLIENT_A}")
    client_a = post_login(client, "right-password", LOAD_BALANCER, CLIENT_A)
    client_b = post_login(Client(), "right-password", LOAD_BALANCER, CLIENT_B)

    assert client_a.status_code == 429
    assert client_b.status_code == 302


def test_behind_two_proxies_the_client_is_the_one_the_outer_proxy_saw(
    client, django_user_model, settings
):
    settings.TRUSTED_PROXY_COUNT = 2
    django_user_model.objects.create_user("shared", password="right-password", is_staff=True)
    outer_proxy = "10.0.0.1"

    for _ in range(settings.AXES_FAILURE_LIMIT):
        post_login(client, "wrong", LOAD_BALANCER, f"{CLIENT_B}, {CLIENT_A}, {outer_proxy}")
    client_a = post_login(client, "right-password", LOAD_BALANCER, f"{CLIENT_A}, {outer_proxy}")
    client_b = post_login(Client(), "right-password", LOAD_BALANCER, f"{CLIENT_B}, {outer_proxy}")

    assert client_a.status_code == 429
    assert client_b.status_code == 302


def test_without_proxies_the_address_is_the_connection_s_and_the_header_is_ignored(
    client, django_user_model, settings
):
    settings.TRUSTED_PROXY_COUNT = 0
    django_user_model.objects.create_user("shared", password="right-password", is_staff=True)

    for _ in range(settings.AXES_FAILURE_LIMIT):
        post_login(client, "wrong", CLIENT_A, CLIENT_B)
    client_a = post_login(client, "right-password", CLIENT_A, "192.0.2.1")
    client_b = post_login(Client(), "right-password", CLIENT_B, CLIENT_A)

    assert client_a.status_code == 429
    assert client_b.status_code == 302
