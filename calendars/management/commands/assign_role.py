"""Give a user one of the portal's roles (and only that one)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from calendars.roles import ROLES


class Command(BaseCommand):
    help = "Assign a role (Admin, Support or Auditor) to an existing user, replacing any other."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("role", type=str.capitalize, choices=ROLES)

    def handle(self, *args: object, username: str, role: str, **options: object) -> None:
        try:
            user = get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist:
            raise CommandError(
                f"No user named {username!r}; create it first (createsuperuser or the admin)."
            ) from None
        with transaction.atomic():
            user.groups.remove(*Group.objects.filter(name__in=ROLES))
            user.groups.add(Group.objects.get(name=role))
            user.is_staff = True  # the portal is the admin site: every role must be able to log in
            user.save(update_fields=["is_staff"])
        self.stdout.write(f"{username} now has the {role} role.")
