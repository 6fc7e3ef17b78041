"""Re-encrypt every stored secret with the first key of FIELD_ENCRYPTION_KEYS."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from calendars.models import Credential, OAuthApp

SECRET_FIELDS = ((OAuthApp, "client_secret"), (Credential, "refresh_token"))


class Command(BaseCommand):
    help = (
        "After putting a new key first in FIELD_ENCRYPTION_KEYS, re-encrypt every secret with it; "
        "then the old key can be removed. Safe to interrupt and run again: rows already under "
        "the new key are left alone, and each batch is committed on its own."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args: object, batch_size: int, **options: object) -> None:
        for model, field in SECRET_FIELDS:
            changed, seen = self._rotate(model, field, batch_size)
            name = model._meta.verbose_name_plural
            self.stdout.write(f"{name}: {changed} of {seen} re-encrypted with the current key.")

    def _rotate(self, model: type, field: str, batch_size: int) -> tuple[int, int]:
        changed = seen = last_pk = 0
        while True:
            with transaction.atomic():
                rows = list(
                    model.objects.select_for_update()
                    .filter(pk__gt=last_pk)
                    .order_by("pk")
                    .only("pk", field)[:batch_size]
                )
                for row in rows:
                    sealed = getattr(row, field)
                    if not sealed.is_current():
                        # Only ciphertext changes: the field is kept out of history.
                        model.objects.filter(pk=row.pk).update(**{field: sealed.rotated()})
                        changed += 1
            if not rows:
                return changed, seen
            seen += len(rows)
            last_pk = rows[-1].pk
