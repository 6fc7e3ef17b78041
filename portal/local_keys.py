"""Keys for a developer's machine, generated once and kept out of git, and the check that
every configured encryption key is a usable one.

Production must set SECRET_KEY and FIELD_ENCRYPTION_KEYS itself; settings refuse to
start without them when DEBUG is off, so generated keys only ever serve local runs.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from cryptography.fernet import Fernet


def load_or_create(path: Path) -> dict[str, str]:
    """Return SECRET_KEY and FIELD_ENCRYPTION_KEYS from `path`, writing new ones if absent."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = [
            "# Generated for local use by portal/local_keys.py. Never copy to production.",
            f"SECRET_KEY={secrets.token_urlsafe(50)}",
            f"FIELD_ENCRYPTION_KEYS={Fernet.generate_key().decode()}",
        ]
        # Created 0600 before anything is written, so the keys are never world-readable.
        path.touch(mode=0o600)
        path.write_text("\n".join(lines) + "\n")
    values = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def is_fernet_key(key: str) -> bool:
    """Whether `key` can encrypt and decrypt (32 url-safe base64-encoded bytes)."""
    try:
        Fernet(key)
    except ValueError:  # binascii.Error, a wrong length, non-ASCII text: all ValueErrors
        return False
    return True
