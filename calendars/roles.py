"""The three roles as Django groups with exact permissions.

A data migration creates them and every `migrate` brings them back in line with this
module, so a change here reaches every deployment with its next release.
"""

from __future__ import annotations

from django.apps import apps as global_apps
from django.apps.registry import Apps
from django.contrib.auth.models import AbstractUser

ADMIN = "Admin"
SUPPORT = "Support"
AUDITOR = "Auditor"
ROLES = (ADMIN, SUPPORT, AUDITOR)

VIEW_ONLY = {
    "calendars": [
        "customer",
        "oauthapp",
        "credential",
        "rawcalendar",
        "integration",
        "statuschange",
        "webhookdelivery",
        "actionrecord",
        "bulkjob",
        "refreshrun",
        "consentlink",
        "outreach",
        "outreachmessage",
        "supportnotice",
        "meeting",
        "botpolicy",
        "botattempt",
        "reconciliation",
    ],
}
# django-q2's lists (read-only for everyone, see calendars/admin/queue.py) are for the Admin
# role only: support and auditors follow work through the portal's job and refresh pages.
QUEUE_VIEW = {
    "django_q.view_task",
    "django_q.view_success",
    "django_q.view_failure",
    "django_q.view_schedule",
    "django_q.view_ormq",
}
API_ACTIONS = [
    "calendars.list_raw_calendars",
    "calendars.replace_refresh_token",
    "calendars.create_integration",
    "calendars.refresh_integration",
    "calendars.resync_integration",
    # Consent links: created through actions, revoked by changing them.
    "calendars.add_consentlink",
    "calendars.change_consentlink",
    # Meetings: bots scheduled, changed and removed, and the customers' bot policies.
    "calendars.run_bot_actions",
    "calendars.add_botpolicy",
    "calendars.change_botpolicy",
]


def _view_everything() -> set[str]:
    return {f"{app}.view_{model}" for app, models in VIEW_ONLY.items() for model in models}


def role_permissions() -> dict[str, set[str]]:
    """Each role's permissions as "app_label.codename"."""
    manage = {
        f"calendars.{verb}_{model}"
        for model in ("customer", "oauthapp", "credential")
        for verb in ("add", "change", "delete")
    }
    return {
        ADMIN: _view_everything()
        | QUEUE_VIEW
        | manage
        | set(API_ACTIONS)
        | {
            "calendars.delete_rawcalendar",
            "calendars.disconnect_integration",
            # Where a customer's recordings and transcripts are sent.
            "calendars.change_bot_destinations",
            "calendars.export_history",
            # Adopting or deleting a connection nobody in the portal holds is an admin's call.
            "calendars.reconcile",
            "auth.view_user",
            "auth.add_user",
            "auth.change_user",
            "auth.view_group",
        },
        SUPPORT: _view_everything() | set(API_ACTIONS),
        AUDITOR: _view_everything() | {"calendars.export_history"},
    }


def sync_roles(apps: Apps = global_apps, *, strict: bool = True) -> None:
    """Create the role groups and set their permissions to exactly `role_permissions()`.

    A migration runs this against the models of its time, when later models' permissions do
    not exist yet: it passes strict=False to skip them, and the post-migrate sync adds them.
    """
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, wanted in role_permissions().items():
        group, _ = Group.objects.get_or_create(name=role)
        permissions = []
        for name in sorted(wanted):
            app_label, codename = name.split(".")
            permission = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if permission is None:
                if strict:
                    raise LookupError(f"permission {name} does not exist; run all migrations first")
                continue
            permissions.append(permission)
        group.permissions.set(permissions)


def role_of(user: AbstractUser) -> str | None:
    """The user's role, or None when it has none."""
    return next((g.name for g in user.groups.all() if g.name in ROLES), None)
