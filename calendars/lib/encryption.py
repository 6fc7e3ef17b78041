"""Secrets at rest: a model field that stores only Fernet ciphertext.

Keys come from FIELD_ENCRYPTION_KEYS (not derived from SECRET_KEY); the first key
encrypts and every key decrypts, so a key can be rotated with `manage.py
reencrypt_secrets`. A stored secret is read back as a `SealedSecret`, which renders as a
placeholder everywhere (templates, logs, repr) and reveals its text only on request.
"""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import models
from django.dispatch import receiver

PLACEHOLDER = "•••••• (stored encrypted)"


class SecretUnreadable(Exception):
    """The ciphertext was made with a key that is not in FIELD_ENCRYPTION_KEYS."""


@cache
def _fernet() -> MultiFernet:
    keys = settings.FIELD_ENCRYPTION_KEYS
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty: no key for secrets.")
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS must hold comma-separated Fernet keys (base64, 32 bytes)."
        ) from exc


@receiver(setting_changed)
def _forget_keys(setting: str, **kwargs: object) -> None:
    if setting == "FIELD_ENCRYPTION_KEYS":
        _fernet.cache_clear()


class SealedSecret:
    """A secret as stored: ciphertext that says nothing when printed."""

    __slots__ = ("token",)

    def __init__(self, token: str) -> None:
        self.token = token

    @classmethod
    def seal(cls, plaintext: str) -> SealedSecret:
        return cls(_fernet().encrypt(plaintext.encode()).decode())

    def reveal(self) -> str:
        try:
            return _fernet().decrypt(self.token.encode()).decode()
        except InvalidToken as exc:
            raise SecretUnreadable(
                "A stored secret cannot be decrypted with FIELD_ENCRYPTION_KEYS: the key it was "
                "encrypted with has been removed or changed. Restore that key (as a later entry "
                "of FIELD_ENCRYPTION_KEYS) or enter the secret again."
            ) from exc

    def is_current(self) -> bool:
        """Whether the first (current) key encrypted this secret."""
        try:
            Fernet(settings.FIELD_ENCRYPTION_KEYS[0]).decrypt(self.token.encode())
        except InvalidToken:
            return False
        return True

    def rotated(self) -> SealedSecret:
        """The same secret encrypted with the current first key."""
        try:
            return SealedSecret(_fernet().rotate(self.token.encode()).decode())
        except InvalidToken as exc:
            raise SecretUnreadable("A stored secret cannot be decrypted for rotation.") from exc

    def __str__(self) -> str:
        return PLACEHOLDER

    def __repr__(self) -> str:
        return "<SealedSecret>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SealedSecret) and other.token == self.token

    def __hash__(self) -> int:
        return hash(self.token)


class _SealOnAssign:
    """Seals plain strings the moment they are assigned, so no instance holds plaintext."""

    def __init__(self, field: EncryptedSecretField) -> None:
        self.field = field

    def __get__(self, instance: models.Model | None, owner: type) -> object:
        if instance is None:
            return self
        return instance.__dict__.get(self.field.attname)

    def __set__(self, instance: models.Model, value: object) -> None:
        if isinstance(value, str):
            value = SealedSecret.seal(value) if value else None
        instance.__dict__[self.field.attname] = value


class EncryptedSecretField(models.TextField):
    """A text secret stored as Fernet ciphertext and read back as a `SealedSecret`."""

    def contribute_to_class(self, cls: type[models.Model], name: str, **kwargs: object) -> None:
        super().contribute_to_class(cls, name, **kwargs)
        setattr(cls, self.attname, _SealOnAssign(self))

    def from_db_value(self, value: str | None, expression: object, connection: object) -> object:
        return None if value is None else SealedSecret(value)

    def to_python(self, value: object) -> object:
        if value is None or isinstance(value, SealedSecret):
            return value
        return SealedSecret.seal(str(value))

    def get_prep_value(self, value: object) -> str | None:
        if value is None or value == "":
            return None
        if isinstance(value, SealedSecret):
            return value.token
        return SealedSecret.seal(str(value)).token

    def value_to_string(self, obj: models.Model) -> str:
        # Serialized dumps carry ciphertext, never the secret.
        value = self.value_from_object(obj)
        return value.token if isinstance(value, SealedSecret) else ""
