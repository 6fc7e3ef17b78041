"""Give a user one of the portal's roles (and only that one)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from calendars.actions.users import give_role
from calendars.roles import ROLES


class Command(BaseCommand):
    help = (
        "Assign a role (Admin, Support or Auditor, in any case: support and Support alike) "
        "to an existing user, replacing any other."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        # The README writes the roles in lower case, the admin capitalised: both are taken.
        parser.add_argument(
            "role",
            type=str.capitalize,
            choices=ROLES,
            metavar="role",
            help="admin, support or auditor (any case)",
        )

    def handle(self, *args: object, username: str, role: str, **options: object) -> None:
        try:
            user = get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist:
            raise CommandError(
                f"No user named {username!r}; create it first (createsuperuser or the admin)."
            ) from None
        give_role(user, role, acting_user=None)  # recorded as done by the system
        self.stdout.write(f"{username} now has the {role} role.")
