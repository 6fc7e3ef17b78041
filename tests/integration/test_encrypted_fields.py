"""Secrets are stored as ciphertext, readable only with a configured key."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.db import connection

from calendars.lib.encryption import PLACEHOLDER, SealedSecret, SecretUnreadable
from calendars.models import Credential, OAuthApp

SECRET = "1//0gRefreshTokenThatMustNeverBeStoredInClear"


def raw_column(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def test_the_database_holds_ciphertext_not_the_secret(credential):
    credential.refresh_token = SECRET
    credential.save()

    stored = raw_column("calendars_credential", "refresh_token", credential.pk)

    assert SECRET not in stored
    assert Credential.objects.get(pk=credential.pk).refresh_token.reveal() == SECRET


def test_no_table_holds_a_secret_in_clear(credential):
    for table in connection.introspection.table_names():
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            cells = [str(cell) for row in cursor.fetchall() for cell in row]
        assert not [c for c in cells if "1//refresh:alice" in c or "google-client-secret" in c], (
            table
        )


@pytest.mark.django_db(transaction=True)
def test_the_database_file_never_contains_a_secret(customer, google_app, tmp_path: Path):
    if connection.vendor != "sqlite":
        pytest.skip("a file-level check for SQLite; the column check covers other databases")
    Credential.objects.create(
        customer=customer, oauth_app=google_app, account_email="a@example.com", refresh_token=SECRET
    )
    copy = tmp_path / "copy.sqlite3"
    with connection.cursor() as cursor:
        cursor.execute("VACUUM INTO %s", [str(copy)])

    data = copy.read_bytes()

    assert SECRET.encode() not in data
    assert b"google-client-secret-value" not in data
    assert b"a@example.com" in data  # proves the copy holds the rows we looked through


def test_a_sealed_secret_never_prints_its_value(credential):
    sealed = Credential.objects.get(pk=credential.pk).refresh_token

    assert isinstance(sealed, SealedSecret)
    assert str(sealed) == PLACEHOLDER
    assert SECRET not in repr(sealed) and sealed.token not in repr(sealed)


def test_assigning_a_secret_seals_it_at_once(google_app):
    google_app.client_secret = "fresh-secret"

    assert isinstance(google_app.client_secret, SealedSecret)
    assert google_app.client_secret.reveal() == "fresh-secret"


def test_a_wrong_key_raises_a_clear_error(credential, settings):
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    with pytest.raises(SecretUnreadable, match="FIELD_ENCRYPTION_KEYS"):
        Credential.objects.get(pk=credential.pk).refresh_token.reveal()


def test_an_old_key_still_decrypts_after_rotation(google_app, settings):
    old_keys = list(settings.FIELD_ENCRYPTION_KEYS)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *old_keys]

    app = OAuthApp.objects.get(pk=google_app.pk)
    rotated = app.client_secret.rotated()

    assert app.client_secret.reveal() == "google-client-secret-value"
    settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS[:1]
    assert rotated.reveal() == "google-client-secret-value"


def test_reencrypt_secrets_moves_every_secret_to_the_new_key(credential, settings):
    from django.core.management import call_command

    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, *settings.FIELD_ENCRYPTION_KEYS]

    first, second = io.StringIO(), io.StringIO()
    call_command("reencrypt_secrets", stdout=first)
    call_command("reencrypt_secrets", stdout=second)
    settings.FIELD_ENCRYPTION_KEYS = [new_key]

    assert Credential.objects.get().refresh_token.reveal() == "1//refresh:alice@example.com"
    assert OAuthApp.objects.get().client_secret.reveal() == "google-client-secret-value"
    assert "credentials: 1 of 1 re-encrypted" in first.getvalue()
    assert "credentials: 0 of 1 re-encrypted" in second.getvalue()  # idempotent
