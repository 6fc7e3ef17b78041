"""People: giving a user one of the three roles."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AbstractUser, Group
from django.db import transaction

from calendars.actions.audit import record_action
from calendars.lib.remote_values import fit
from calendars.models import ActionRecord
from calendars.roles import ROLES


def give_role(user: AbstractUser, role: str, *, acting_user: AbstractBaseUser | None) -> None:
    """Give `user` exactly `role` among the three, and the staff flag it needs to log in."""
    with transaction.atomic():
        user.groups.remove(*Group.objects.filter(name__in=ROLES))
        user.groups.add(Group.objects.get(name=role))
        user.is_staff = True  # the portal is the admin site: every role must be able to log in
        user.save(update_fields=["is_staff"])
        record_action(
            acting_user,
            fit(ActionRecord, "action", f"give role to {user.get_username()}"),
            succeeded=True,
            message=f"{user.get_username()} now has the {role} role",
        )
