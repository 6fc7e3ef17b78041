"""Security settings: the deploy checklist, CSP, and throttled logins."""

from __future__ import annotations

import os
import subprocess
import sys

from cryptography.fernet import Fernet
from django.urls import reverse

from tests.test_settings import ROOT

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
