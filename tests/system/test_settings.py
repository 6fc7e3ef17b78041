"""Configuration: production refuses to start without its secrets, naming every one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from portal import local_keys

ROOT = Path(__file__).resolve().parents[2]
CLEAN = (
    "SECRET_KEY",
    "FIELD_ENCRYPTION_KEYS",
    "MEETINGBAAS_API_KEY",
    "DEBUG",
    "DJANGO_SETTINGS_MODULE",
    "PORT",
    "PORTAL_PUBLIC_URL",
    "DATABASE_URL",
    "ALLOW_SQLITE_IN_PRODUCTION",
    "USE_SANDBOX",
    "STATIC_ROOT",
)
# A production database for settings that are only read: nothing connects to it.
POSTGRES = "postgres://portal@db.invalid:5432/portal"


def import_settings(**env: str) -> subprocess.CompletedProcess:
    return run_with_settings("import portal.settings", **env)


def run_with_settings(code: str, **env: str) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter whose environment holds only `env` of the portal's."""
    base = {k: v for k, v in os.environ.items() if k not in CLEAN}
    return subprocess.run(  # noqa: S603 (the code is the tests' own)
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=base | env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_production_lists_every_missing_variable_in_one_message(tmp_path):
    result = import_settings(DEBUG="false", PORTAL_VAR_DIR=str(tmp_path))

    assert result.returncode != 0
    for name in ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "MEETINGBAAS_API_KEY"):
        assert f"{name} is not set" in result.stderr


def test_queue_timings_that_would_redeliver_running_tasks_are_refused(tmp_path):
    result = import_settings(
        DEBUG="false",
        PORTAL_VAR_DIR=str(tmp_path),
        BULK_TASK_SECONDS="200",
        Q_TIMEOUT="120",
        Q_RETRY="100",
        BULK_LANES="0",
    )

    assert result.returncode != 0
    assert (
        "BULK_TASK_SECONDS (200) < Q_TIMEOUT (120) < Q_RETRY (100) does not hold" in result.stderr
    )
    assert "BULK_LANES is 0" in result.stderr
    assert "SECRET_KEY is not set" in result.stderr  # still one message for everything


def test_debug_is_off_unless_set(tmp_path):
    result = run_with_settings(
        "from portal import settings; print(settings.DEBUG)",
        PORTAL_VAR_DIR=str(tmp_path),
        SECRET_KEY="x" * 50,
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        MEETINGBAAS_API_KEY="live-key",
        DATABASE_URL=POSTGRES,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_without_debug_nothing_is_generated_and_every_secret_is_required(tmp_path):
    result = import_settings(PORTAL_VAR_DIR=str(tmp_path))

    assert "SECRET_KEY is not set" in result.stderr
    assert not (tmp_path / "local-keys.env").exists()


@pytest.mark.parametrize("debug", ["true", "false"])
def test_a_malformed_encryption_key_is_refused_at_start_without_showing_it(tmp_path, debug):
    malformed = "not-a-fernet-key-but-someones-secret"
    result = import_settings(
        DEBUG=debug,
        PORTAL_VAR_DIR=str(tmp_path),
        SECRET_KEY="x" * 50,
        FIELD_ENCRYPTION_KEYS=f"{Fernet.generate_key().decode()},{malformed}",
        MEETINGBAAS_API_KEY="live-key",
        BULK_LANES="0",
    )

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "FIELD_ENCRYPTION_KEYS: key 2 of 2 is not a Fernet key" in result.stderr
    assert "BULK_LANES is 0" in result.stderr  # in the same message as every other problem
    assert malformed not in result.stderr and malformed not in result.stdout


def test_session_limits_and_proxy_count_out_of_range_are_refused(tmp_path):
    result = import_settings(
        DEBUG="true",
        PORTAL_VAR_DIR=str(tmp_path),
        SESSION_IDLE_MINUTES="0",
        SESSION_COOKIE_AGE="5",
        AXES_PROXY_COUNT="-1",
    )

    assert result.returncode != 0
    assert "SESSION_IDLE_MINUTES (0) must be 1 or more" in result.stderr
    assert "SESSION_COOKIE_AGE (5) 60 seconds or more" in result.stderr
    assert "AXES_PROXY_COUNT is -1, not 0 or more" in result.stderr


def test_production_starts_with_its_variables_set(tmp_path):
    result = import_settings(
        DEBUG="false",
        PORTAL_VAR_DIR=str(tmp_path),
        SECRET_KEY="x" * 50,
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        MEETINGBAAS_API_KEY="live-key",
        DATABASE_URL=POSTGRES,
    )

    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "local-keys.env").exists()


def test_local_keys_are_generated_once_and_kept_private(tmp_path):
    path = tmp_path / "local-keys.env"

    first = local_keys.load_or_create(path)
    second = local_keys.load_or_create(path)

    assert first == second
    assert first["SECRET_KEY"] and Fernet(first["FIELD_ENCRYPTION_KEYS"])
    assert path.stat().st_mode & 0o077 == 0


def test_a_debug_runs_public_address_follows_the_port_it_binds_to(tmp_path):
    shown = "from portal import settings; print(settings.PORTAL_PUBLIC_URL)"
    on_8100 = run_with_settings(shown, DEBUG="true", PORT="8100", PORTAL_VAR_DIR=str(tmp_path))
    unset = run_with_settings(shown, DEBUG="true", PORTAL_VAR_DIR=str(tmp_path))

    assert on_8100.returncode == 0, on_8100.stderr
    assert on_8100.stdout.strip() == "http://127.0.0.1:8100"
    assert unset.stdout.strip() == "http://127.0.0.1:8000"


def test_a_contact_address_that_is_not_one_is_refused(tmp_path):
    result = import_settings(
        DEBUG="true", PORTAL_VAR_DIR=str(tmp_path), PORTAL_CONTACT_EMAIL="help desk"
    )

    assert result.returncode != 0
    assert "PORTAL_CONTACT_EMAIL ('help desk') is not an e-mail address" in result.stderr


def test_static_root_is_where_the_environment_says(tmp_path):
    shown = "from portal import settings; print(settings.STATIC_ROOT)"
    set_ = run_with_settings(
        shown, DEBUG="true", PORTAL_VAR_DIR=str(tmp_path), STATIC_ROOT="/srv/portal/static"
    )
    unset = run_with_settings(shown, DEBUG="true", PORTAL_VAR_DIR=str(tmp_path))

    assert set_.stdout.strip() == "/srv/portal/static", set_.stderr
    assert unset.stdout.strip() == str(ROOT / "staticfiles")
