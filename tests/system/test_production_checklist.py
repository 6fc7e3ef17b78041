"""The production checklist, enforced: SQLite refused unless allowed, every lack warned."""

from __future__ import annotations

import importlib

import pytest
from cryptography.fernet import Fernet

from tests.system.test_settings import POSTGRES, import_settings, run_with_settings

PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "k" * 50,
    "MEETINGBAAS_API_KEY": "live-key",
}


def production(tmp_path, **env: str) -> dict[str, str]:
    return {
        **PRODUCTION,
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "PORTAL_VAR_DIR": str(tmp_path),
        **env,
    }


def check_deploy(tmp_path, **env: str):
    return run_with_settings(
        "from django.core.management import execute_from_command_line; "
        "execute_from_command_line(['manage.py', 'check', '--deploy'])",
        DJANGO_SETTINGS_MODULE="portal.settings",
        **production(tmp_path, **env),
    )


def test_production_without_a_database_url_refuses_to_start_on_sqlite(tmp_path):
    result = import_settings(**production(tmp_path))

    assert result.returncode != 0
    assert "DATABASE_URL is not set (production runs on PostgreSQL" in result.stderr
    assert not (tmp_path / "portal.sqlite3").exists()


def test_a_sqlite_database_url_is_refused_in_production_too(tmp_path):
    result = import_settings(**production(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path}/p.db"))

    assert result.returncode != 0
    assert "DATABASE_URL names SQLite" in result.stderr


def test_sqlite_runs_in_production_when_explicitly_allowed_and_is_warned(tmp_path):
    result = check_deploy(tmp_path, ALLOW_SQLITE_IN_PRODUCTION="true")

    assert result.returncode == 0, result.stderr
    assert "calendars.W006" in result.stderr and "runs on SQLite" in result.stderr


def test_check_deploy_warns_for_every_setting_production_needs_but_lacks(tmp_path):
    result = check_deploy(tmp_path, DATABASE_URL=POSTGRES)

    warned = result.stdout + result.stderr
    for name in (
        "MEETINGBAAS_WEBHOOK_SECRET is not set: every v2 webhook is refused",
        "PORTAL_PUBLIC_URL is not set",
        "ALLOWED_HOSTS names this machine only",
        "PORTAL_COMPANY_NAME is not set",
        "TRUST_X_FORWARDED_PROTO is off",
    ):
        assert name in warned
    assert "runs on SQLite" not in warned and "USE_SANDBOX" not in warned


def test_trusting_the_proxys_header_or_no_https_redirect_is_not_warned(tmp_path):
    trusted = check_deploy(tmp_path, DATABASE_URL=POSTGRES, TRUST_X_FORWARDED_PROTO="true")
    no_redirect = check_deploy(tmp_path, DATABASE_URL=POSTGRES, SECURE_SSL_REDIRECT="false")

    assert "TRUST_X_FORWARDED_PROTO is off" not in trusted.stdout + trusted.stderr
    assert "TRUST_X_FORWARDED_PROTO is off" not in no_redirect.stdout + no_redirect.stderr


def test_a_plain_http_public_address_and_the_sandbox_are_warned(tmp_path):
    result = check_deploy(
        tmp_path,
        DATABASE_URL=POSTGRES,
        PORTAL_PUBLIC_URL="http://portal.example.com",
        USE_SANDBOX="true",
    )

    warned = result.stdout + result.stderr
    assert "PORTAL_PUBLIC_URL is not an https:// address" in warned
    assert "USE_SANDBOX is on" in warned
    assert "PORTAL_PUBLIC_URL is not set" not in warned


@pytest.mark.parametrize(
    ("env", "bind"),
    [({}, "127.0.0.1:8000"), ({"WEB_BIND": "10.0.0.5", "PORT": "8080"}, "10.0.0.5:8080")],
    ids=["default", "set"],
)
def test_gunicorn_binds_to_loopback_unless_told_an_address(monkeypatch, env, bind):
    monkeypatch.delenv("WEB_BIND", raising=False)
    monkeypatch.delenv("PORT", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    config = importlib.reload(importlib.import_module("portal.gunicorn"))

    assert config.bind == bind
