"""Configuration: production refuses to start without its secrets, naming every one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

from portal import local_keys

ROOT = Path(__file__).resolve().parent.parent
CLEAN = (
    "SECRET_KEY",
    "FIELD_ENCRYPTION_KEYS",
    "MEETINGBAAS_API_KEY",
    "DEBUG",
    "DJANGO_SETTINGS_MODULE",
)


def import_settings(**env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in CLEAN}
    return subprocess.run(
        [sys.executable, "-c", "import portal.settings"],
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


def test_production_starts_with_its_variables_set(tmp_path):
    result = import_settings(
        DEBUG="false",
        PORTAL_VAR_DIR=str(tmp_path),
        SECRET_KEY="x" * 50,
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        MEETINGBAAS_API_KEY="live-key",
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
