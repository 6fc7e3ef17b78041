"""Roles are enforced by the server: pages, actions and direct POSTs, per role."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.test import TestCase
from django.urls import reverse
from django_q.models import Task

from calendars import roles
from calendars.management.commands import assign_role
from calendars.models import (
    ActionRecord,
    Customer,
    Integration,
    OAuthApp,
    RawCalendar,
    StatusChange,
)


def perms_of(group: Group) -> set[str]:
    return {
        f"{p.content_type.app_label}.{p.codename}"
        for p in group.permissions.select_related("content_type")
    }


def action_choices(response) -> set[str]:
    form = (
        response.context["action_form"]
        if response.context and "action_form" in response.context
        else None
    )
    return {value for value, _ in form.fields["action"].choices if value} if form else set()


def test_migrate_creates_the_three_roles_with_exact_permissions(db):
    expected = roles.role_permissions()
    for name in roles.ROLES:
        assert perms_of(Group.objects.get(name=name)) == expected[name]


def test_syncing_again_restores_a_tampered_role(db):
    support = Group.objects.get(name=roles.SUPPORT)
    support.permissions.clear()

    roles.sync_roles()

    assert perms_of(support) == roles.role_permissions()[roles.SUPPORT]


def test_assign_role_replaces_the_previous_role(django_user_model):
    user = django_user_model.objects.create_user("sam")
    call_command("assign_role", "sam", "support", stdout=io.StringIO())
    call_command("assign_role", "sam", "auditor", stdout=io.StringIO())

    user.refresh_from_db()
    assert [g.name for g in user.groups.all()] == ["Auditor"]
    assert user.is_staff


@pytest.mark.parametrize("spelling", ["support", "Support", "SUPPORT"])
def test_assign_role_takes_a_role_named_as_the_readme_or_its_help_writes_it(
    django_user_model, spelling
):
    django_user_model.objects.create_user("sam")
    out = io.StringIO()

    call_command("assign_role", "sam", spelling, stdout=out)

    assert "sam now has the Support role." in out.getvalue()
    assert list(
        django_user_model.objects.get(username="sam").groups.values_list("name", flat=True)
    ) == ["Support"]


def test_assign_role_says_its_roles_may_be_written_in_any_case():
    parser = assign_role.Command().create_parser("manage.py", "assign_role")

    assert "support and Support alike" in " ".join(parser.format_help().split())


def test_assign_role_refuses_an_unknown_user(db):
    with pytest.raises(CommandError, match="No user named"):
        call_command("assign_role", "ghost", "admin")


def test_support_runs_api_actions_but_cannot_edit_or_delete(role_client, sandbox, credential):
    client = role_client("Support")

    listing = client.post(
        reverse("admin:calendars_credential_changelist"),
        {"action": "list_raw_calendars", "_selected_action": [credential.pk]},
    )
    assert listing.status_code == 200 and RawCalendar.objects.count() == 3
    assert b"Create integration</button>" in listing.content

    assert client.get(reverse("admin:calendars_oauthapp_add")).status_code == 403
    change_page = client.get(reverse("admin:calendars_credential_change", args=[credential.pk]))
    assert change_page.status_code == 200 and b'name="refresh_token"' not in change_page.content
    delete = reverse("admin:calendars_customer_delete", args=[credential.customer.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert Customer.objects.exists()
    edit = reverse("admin:calendars_oauthapp_change", args=[credential.oauth_app.pk])
    client.post(
        edit, {"provider": "google", "name": "x", "client_id": "x", "client_secret": "stolen"}
    )
    assert OAuthApp.objects.get().client_secret.reveal() == "google-client-secret-value"
    assert client.get(reverse("admin:calendars_history_export")).status_code == 403


def test_support_replaces_a_refresh_token_and_pushes_it(
    role_client, sandbox, make_integration, credential
):
    integration = make_integration()
    client = role_client("Support")
    url = reverse("admin:calendars_credential_changelist")

    form = client.post(
        url, {"action": "replace_refresh_token", "_selected_action": [credential.pk]}
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        done = client.post(
            url,
            {
                "action": "replace_refresh_token",
                "_selected_action": [credential.pk],
                "apply": "1",
                "refresh_token": "1//new:alice@example.com",
            },
        )
    progress = client.get(done.url)

    assert b'name="refresh_token"' in form.content
    assert b'<strong id="progress-percent">100%</strong>' in progress.content
    credential.refresh_from_db()
    assert credential.refresh_token.reveal() == "1//new:alice@example.com"
    assert sandbox.connection(integration.remote_id).refresh_token == "1//new:alice@example.com"
    record = ActionRecord.objects.get(action="replace refresh token")
    assert record.username == "support-user" and record.credential == credential


def test_auditor_sees_everything_and_can_run_nothing(
    role_client, sandbox, make_integration, credential
):
    integration = make_integration()
    client = role_client("Auditor")

    for name in (
        "integration",
        "credential",
        "oauthapp",
        "customer",
        "rawcalendar",
        "statuschange",
        "webhookdelivery",
        "actionrecord",
    ):
        page = client.get(reverse(f"admin:calendars_{name}_changelist"))
        assert page.status_code == 200, name
        assert action_choices(page) <= {""}, name  # no action offered, not even delete

    refresh = client.post(
        reverse("admin:calendars_integration_changelist"),
        {"action": "refresh_status", "_selected_action": [integration.pk]},
    )
    create = client.post(
        reverse("admin:calendars_rawcalendar_changelist"),
        {"action": "create_integration", "_selected_action": [integration.raw_calendar.pk]},
    )
    listing = client.post(
        reverse("admin:calendars_credential_changelist"),
        {"action": "list_raw_calendars", "_selected_action": [credential.pk]},
    )

    # Nothing ran: Django offers an auditor no action and ignores a posted one.
    assert {refresh.status_code, create.status_code, listing.status_code} <= {200, 302, 403}
    assert not Task.objects.exists()
    assert Integration.objects.count() == 1
    assert len(sandbox.requests_to("POST", "/v2/calendars/list-raw")) == 0
    assert client.get(reverse("admin:calendars_customer_add")).status_code == 403
    assert client.get(reverse("admin:calendars_history_export")).status_code == 200


def test_support_is_offered_only_its_actions(role_client):
    client = role_client("Support")

    assert action_choices(client.get(reverse("admin:calendars_credential_changelist"))) == {
        "list_raw_calendars",
        "create_reconsent_link",
        "create_admin_consent_link",
        "replace_refresh_token",
    }
    assert action_choices(client.get(reverse("admin:calendars_integration_changelist"))) == {
        "refresh_status",
        "resync",
        "resubscribe",
        "recreate",
    }


@pytest.mark.parametrize("role", ["Admin", "Support", "Auditor"])
def test_history_cannot_be_edited_or_deleted_by_any_role(
    role_client, sandbox, make_integration, role
):
    integration = make_integration()
    change = StatusChange.objects.get(integration=integration)
    client = role_client(role)

    delete = client.post(
        reverse("admin:calendars_statuschange_delete", args=[change.pk]), {"post": "yes"}
    )
    edit = client.post(
        reverse("admin:calendars_statuschange_change", args=[change.pk]), {"message": "rewritten"}
    )

    assert delete.status_code == 403
    assert edit.status_code == 403
    change.refresh_from_db()
    assert change.message == ""


def test_admin_manages_apps_and_credentials(role_client):
    client = role_client("Admin")
    data = {
        "provider": "google",
        "name": "App",
        "client_id": "id.apps.googleusercontent.com",
        "client_secret": "s",
        "tenant": "common",
    }

    assert client.post(reverse("admin:calendars_oauthapp_add"), data).status_code == 302
    assert client.get(reverse("admin:calendars_history_export")).status_code == 200


def test_only_the_admin_role_holds_django_q2_permissions(db):
    for name in roles.ROLES:
        queue = {p for p in perms_of(Group.objects.get(name=name)) if p.startswith("django_q.")}
        assert queue == (roles.QUEUE_VIEW if name == roles.ADMIN else set()), name
        assert all(p.startswith("django_q.view_") for p in queue), name


def test_a_role_given_by_the_command_is_recorded_as_the_system_s_naming_the_user(
    django_user_model,
):
    django_user_model.objects.create_user("dana")

    call_command("assign_role", "dana", "auditor", stdout=io.StringIO())

    record = ActionRecord.objects.get(message__contains="dana")
    # Wherever the record is named alone (the home page's recent activity), it says to whom.
    assert str(record) == "give role to dana by system"
    assert record.username == "system" and "Auditor" in record.message
