"""The Admin role hands out the three roles and nothing more; superusers keep full control."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from calendars.models import ActionRecord

User = get_user_model()


def escalation() -> dict[str, object]:
    """What an Admin-role user would add to a form to raise an account above a role."""
    return {
        "is_superuser": "on",
        "is_staff": "on",
        "groups": [Group.objects.get(name="Admin").pk],
        "user_permissions": [Permission.objects.get(codename="delete_user").pk],
    }


def powers(user) -> tuple[bool, list[str], list[str]]:
    user.refresh_from_db()
    return (
        user.is_superuser,
        sorted(user.groups.values_list("name", flat=True)),
        list(user.user_permissions.values_list("codename", flat=True)),
    )


@pytest.fixture
def admin_client(role_client):
    return role_client("Admin")


@pytest.fixture
def root(db):
    return User.objects.create_superuser("root", password="root-password")


@pytest.fixture
def support_user(db):
    user = User.objects.create_user("sam", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name="Support"))
    return user


def test_the_admin_role_creates_a_user_with_exactly_one_role(admin_client):
    response = admin_client.post(
        reverse("admin:auth_user_add"),
        {
            "username": "newcomer",
            "usable_password": "true",
            "password1": "a-long-enough-passphrase",
            "password2": "a-long-enough-passphrase",
            "role": "Support",
            **escalation(),
        },
    )

    assert response.status_code == 302
    newcomer = User.objects.get(username="newcomer")
    assert powers(newcomer) == (False, ["Support"], [])
    assert newcomer.is_staff  # every role logs in to the admin
    record = ActionRecord.objects.get(action="give role to newcomer")
    assert record.username == "admin-user"


def test_the_admin_role_changes_a_role_and_nothing_else(admin_client, support_user):
    response = admin_client.post(
        reverse("admin:auth_user_change", args=[support_user.pk]),
        {"username": "sam", "is_active": "on", "role": "Auditor", **escalation()},
    )

    assert response.status_code == 302
    assert powers(support_user) == (False, ["Auditor"], [])


def test_a_role_outside_the_three_is_refused(admin_client, support_user):
    response = admin_client.post(
        reverse("admin:auth_user_change", args=[support_user.pk]),
        {"username": "sam", "is_active": "on", "role": "Superuser"},
    )

    assert response.status_code == 200 and response.context["adminform"].form.errors["role"]
    assert powers(support_user) == (False, ["Support"], [])


def test_the_admin_role_is_offered_no_field_beyond_the_role(admin_client, support_user):
    page = admin_client.get(reverse("admin:auth_user_change", args=[support_user.pk]))
    add = admin_client.get(reverse("admin:auth_user_add"))

    for form in (page.context["adminform"].form, add.context["adminform"].form):
        assert "role" in form.fields
        assert not {"is_superuser", "is_staff", "groups", "user_permissions"} & set(form.fields)


def test_the_admin_role_cannot_touch_a_superuser(admin_client, root):
    pages = {
        "change": reverse("admin:auth_user_change", args=[root.pk]),
        "password": reverse("admin:auth_user_password_change", args=[root.pk]),
        "delete": reverse("admin:auth_user_delete", args=[root.pk]),
        "history": reverse("admin:auth_user_history", args=[root.pk]),
    }

    for name, url in pages.items():
        assert admin_client.get(url).status_code in (403, 404), name
    change = admin_client.post(
        pages["change"], {"username": "root", "is_active": "", "role": "Auditor"}
    )
    password = admin_client.post(
        pages["password"],
        {
            "password1": "taken-over-1234",
            "password2": "taken-over-1234",
            "set_usable_password": "true",
        },
    )
    delete = admin_client.post(pages["delete"], {"post": "yes"})

    assert {change.status_code, password.status_code, delete.status_code} <= {403, 404}
    root.refresh_from_db()
    assert root.is_superuser and root.is_active and root.check_password("root-password")
    assert powers(root) == (True, [], [])


def test_the_admin_role_cannot_reset_an_account_holding_more_than_a_role(admin_client, db):
    powerful = User.objects.create_user("ops", password="ops-password", is_staff=True)
    powerful.user_permissions.add(Permission.objects.get(codename="delete_user"))

    change = admin_client.post(
        reverse("admin:auth_user_change", args=[powerful.pk]),
        {"username": "ops", "is_active": "on", "role": "Auditor"},
    )
    password = admin_client.post(
        reverse("admin:auth_user_password_change", args=[powerful.pk]),
        {
            "password1": "taken-over-1234",
            "password2": "taken-over-1234",
            "set_usable_password": "true",
        },
    )

    assert (change.status_code, password.status_code) == (403, 403)
    powerful.refresh_from_db()
    assert powerful.check_password("ops-password") and powers(powerful) == (
        False,
        [],
        ["delete_user"],
    )


@pytest.mark.parametrize("role", ["Support", "Auditor"])
def test_support_and_auditors_cannot_manage_users(role_client, role):
    client = role_client(role)

    assert client.get(reverse("admin:auth_user_changelist")).status_code == 403
    assert client.post(reverse("admin:auth_user_add"), {"username": "x"}).status_code == 403


# A superuser's change form keeps Django's "Important dates", the date joined required.
JOINED = {"date_joined_0": "2026-01-01", "date_joined_1": "00:00:00"}


def test_a_superuser_keeps_full_control(client, root, support_user):
    client.force_login(root)

    response = client.post(
        reverse("admin:auth_user_change", args=[support_user.pk]),
        {
            "username": "sam",
            "is_active": "on",
            "role": "Admin",
            **JOINED,
            **escalation(),
        },
    )

    assert response.status_code == 302
    assert powers(support_user) == (True, ["Admin"], ["delete_user"])


def test_a_superuser_creates_a_user_with_a_role(client, root):
    client.force_login(root)

    form = client.get(reverse("admin:auth_user_add")).context["adminform"].form
    response = new_user(client, "newcomer")

    assert "role" in form.fields and form.fields["role"].required
    assert response.status_code == 302
    newcomer = User.objects.get(username="newcomer")
    assert powers(newcomer) == (False, ["Support"], []) and newcomer.is_staff


def test_a_superuser_gives_a_role_on_the_change_form_which_has_no_groups_picker(
    client, root, support_user
):
    client.force_login(root)
    url = reverse("admin:auth_user_change", args=[support_user.pk])

    form = client.get(url).context["adminform"].form
    response = client.post(url, {"username": "sam", "is_active": "on", "role": "Auditor", **JOINED})

    assert "groups" not in form.fields and form.initial["role"] == "Support"
    assert response.status_code == 302
    assert powers(support_user) == (False, ["Auditor"], [])


def test_only_a_superuser_account_may_be_left_without_a_role(client, root, support_user):
    client.force_login(root)

    refused = client.post(
        reverse("admin:auth_user_change", args=[support_user.pk]),
        {"username": "sam", "is_active": "on", "role": "", **JOINED},
    )
    kept = client.post(
        reverse("admin:auth_user_change", args=[root.pk]),
        {"username": "root", "is_active": "on", "is_superuser": "on", "role": "", **JOINED},
    )

    assert refused.status_code == 200 and refused.context["adminform"].form.errors["role"]
    assert powers(support_user) == (False, ["Support"], [])
    assert kept.status_code == 302 and powers(root) == (True, [], [])


def test_a_superuser_cannot_clear_a_role_even_when_making_a_superuser(client, root, support_user):
    client.force_login(root)

    response = client.post(
        reverse("admin:auth_user_change", args=[support_user.pk]),
        {"username": "sam", "is_active": "on", "is_superuser": "on", "role": "", **JOINED},
    )

    assert response.status_code == 200 and response.context["adminform"].form.errors["role"]
    assert powers(support_user) == (False, ["Support"], [])


def new_user(client, username: str):
    return client.post(
        reverse("admin:auth_user_add"),
        {
            "username": username,
            "usable_password": "true",
            "password1": "a-long-enough-passphrase",
            "password2": "a-long-enough-passphrase",
            "role": "Support",
        },
    )


@pytest.mark.parametrize("username", ["\u0430dmin", "admin\u200b", "ad min", "ADMIN", "Admin"])
def test_a_username_that_looks_like_another_is_refused(admin_client, root, username):
    User.objects.create_user("admin", password="pw")

    response = new_user(admin_client, username)

    assert response.status_code == 200  # the form again, with its error
    assert not User.objects.filter(username=username).exists()


def test_a_plain_ascii_username_is_taken(admin_client):
    new_user(admin_client, "sam.o_o-neil@acme")

    assert User.objects.filter(username="sam.o_o-neil@acme").exists()


def test_a_superusers_form_holds_usernames_to_the_same_rules(client, root):
    client.force_login(root)

    client.post(
        reverse("admin:auth_user_add"),
        {
            "username": "r\u043e\u043et",
            "usable_password": "true",
            "password1": "a-long-enough-passphrase",
            "password2": "a-long-enough-passphrase",
        },
    )

    assert User.objects.count() == 1


def test_the_admin_role_cannot_reset_another_admins_password(admin_client, root):
    other = User.objects.create_user("ada", password="old-password", is_staff=True)
    other.groups.add(Group.objects.get(name="Admin"))
    url = reverse("admin:auth_user_password_change", args=[other.pk])

    response = admin_client.post(
        url, {"password1": "taken-over-123", "password2": "taken-over-123"}
    )

    assert response.status_code == 403
    other.refresh_from_db()
    assert other.check_password("old-password")


def test_a_superuser_resets_an_admins_password(client, root):
    other = User.objects.create_user("ada", password="old-password", is_staff=True)
    other.groups.add(Group.objects.get(name="Admin"))
    client.force_login(root)

    client.post(
        reverse("admin:auth_user_password_change", args=[other.pk]),
        {"usable_password": "true", "password1": "new-pass-9876", "password2": "new-pass-9876"},
    )

    other.refresh_from_db()
    assert other.check_password("new-pass-9876")


def test_the_admin_role_still_resets_a_support_users_password(admin_client, support_user):
    admin_client.post(
        reverse("admin:auth_user_password_change", args=[support_user.pk]),
        {"usable_password": "true", "password1": "new-pass-9876", "password2": "new-pass-9876"},
    )

    support_user.refresh_from_db()
    assert support_user.check_password("new-pass-9876")
