"""Give a local (DEBUG) portal a superuser to log in with, and say how."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "With DEBUG on, create the superuser 'admin' once and print its login."

    def handle(self, *args: object, **options: object) -> None:
        if not settings.DEBUG:
            raise CommandError(
                "Refusing to create a local admin with DEBUG off; use createsuperuser."
            )
        password_file = settings.VAR_DIR / "local-admin-password"
        User = get_user_model()
        if not User.objects.filter(username="admin").exists():
            password = secrets.token_urlsafe(12)
            User.objects.create_superuser("admin", "admin@localhost", password)
            password_file.touch(mode=0o600)
            password_file.write_text(password + "\n")
        if password_file.exists():
            login = f"admin / {password_file.read_text().strip()}"
        else:
            login = "admin (its password was set by hand)"
        self.stdout.write(f"Local login: {login}")
