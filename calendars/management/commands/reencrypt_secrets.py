"""Re-encrypt every stored secret with the first key of FIELD_ENCRYPTION_KEYS."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import transaction

from calendars.models import Credential, OAuthApp


class Command(BaseCommand):
    help = (
        "After putting a new key first in FIELD_ENCRYPTION_KEYS, re-encrypt all secrets with "
        "it; the old key can then be removed."
    )

    def handle(self, *args: object, **options: object) -> None:
        counts = {}
        with transaction.atomic():
            for model, field in ((OAuthApp, "client_secret"), (Credential, "refresh_token")):
                rows = model.objects.select_for_update().only("pk", field)
                for row in rows:
                    setattr(row, field, getattr(row, field).rotated())
                    row.save(update_fields=[field])
                counts[model._meta.verbose_name_plural] = len(rows)
        summary = ", ".join(f"{n} {name}" for name, n in counts.items())
        self.stdout.write(f"Re-encrypted the secrets of {summary}.")
