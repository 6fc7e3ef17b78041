"""People: superusers manage accounts fully; the Admin role only hands out the three roles.

The Admin role holds auth.add_user and auth.change_user, with which Django's user admin would
let it set is_superuser, groups and permissions, and reset a superuser's password. Here a
person who is not a superuser gets forms with none of those fields (a posted value is ignored,
as for any field a form does not have), gives each account exactly one role, and cannot open,
change, reset or delete an account holding more than a role gives (a superuser, direct
permissions, another group), nor reset another Admin's password. Usernames are ASCII letters,
digits and . - _ @, unique whatever their case.

A superuser gives roles through the same role field (the add form is the Admin role's; the
change form keeps Django's superuser, staff and permission fields beside the role, but not the
groups picker, which would undo the role given).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from calendars.actions.users import give_role
from calendars.lib.validators import validate_username
from calendars.roles import ADMIN, ROLES, role_of

User = get_user_model()

ROLE_HELP = (
    "Admin: manages OAuth apps, customers, credentials and people's roles, runs every action "
    "(disconnect and reconciliation included), sets bot policies with where recordings and "
    "transcripts go, exports history. "
    "Support: lists raw calendars, replaces refresh tokens, creates, refreshes, resyncs and "
    "recreates integrations (not one an Admin disconnected), makes and revokes consent links, "
    "schedules bots and edits bot policies except their callback and transcription settings; "
    "deletes nothing. "
    "Auditor: reads everything and exports history; changes nothing."
)


def _role_field(*, required: bool = True) -> forms.ChoiceField:
    choices = [(role, role) for role in ROLES]
    if not required:
        choices.insert(0, ("", "None (superusers only)"))
    return forms.ChoiceField(choices=choices, required=required, help_text=ROLE_HELP)


class UsernameRules:
    """ASCII usernames, unique whatever their case: "Admin" is not a second "admin"."""

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        validate_username(username)
        taken = User.objects.filter(username__iexact=username).exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError("A user with that username already exists.")
        return username


class PortalUserCreationForm(UsernameRules, AdminUserCreationForm):
    pass


class PortalUserChangeForm(UsernameRules, UserChangeForm):
    pass


class RoleUserCreationForm(PortalUserCreationForm):
    role = _role_field()


class RoleUserChangeForm(PortalUserChangeForm):
    role = _role_field()

    class Meta(UserChangeForm.Meta):
        fields = ("username", "password", "first_name", "last_name", "email", "is_active")

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.initial["role"] = role_of(self.instance)


class SuperuserChangeForm(PortalUserChangeForm):
    """Django's full change form with the role field: a role is needed unless a superuser, and
    changed here, never taken away."""

    role = _role_field(required=False)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.initial["role"] = role_of(self.instance) or ""

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("role"):
            return cleaned
        if role_of(self.instance):
            self.add_error(
                "role", "Pick another role: none is taken away here (untick Active to stop one)."
            )
        elif not cleaned.get("is_superuser"):
            self.add_error("role", "Give a role: an account that is not a superuser needs one.")
        return cleaned


def holds_only_a_role(user: AbstractUser) -> bool:
    """True when the account has no power beyond one of the three roles."""
    return (
        not user.is_superuser
        and not user.user_permissions.exists()
        and all(group.name in ROLES for group in user.groups.all())
    )


class PortalUserAdmin(UserAdmin):
    add_form = RoleUserCreationForm
    form = RoleUserChangeForm
    list_display = ("username", "email", "first_name", "last_name", "role", "is_active")
    role_add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "usable_password", "password1", "password2", "role"),
            },
        ),
    )
    role_fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("Access", {"fields": ("is_active", "role")}),
    )
    superuser_fieldsets = (
        *role_fieldsets,
        ("Beyond a role", {"fields": ("is_superuser", "is_staff", "user_permissions")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="role")
    def role(self, user: AbstractUser) -> str:
        return "superuser" if user.is_superuser else role_of(user) or "none"

    def get_fieldsets(self, request: HttpRequest, obj: AbstractUser | None = None) -> tuple:
        if obj is None:
            return self.role_add_fieldsets
        return self.superuser_fieldsets if request.user.is_superuser else self.role_fieldsets

    def get_form(
        self, request: HttpRequest, obj: AbstractUser | None = None, **kwargs: object
    ) -> type[forms.ModelForm]:
        if obj is not None and request.user.is_superuser:
            kwargs["form"] = SuperuserChangeForm
        return super().get_form(request, obj, **kwargs)

    def _may_manage(self, request: HttpRequest, obj: AbstractUser | None) -> bool:
        return request.user.is_superuser or obj is None or holds_only_a_role(obj)

    def has_view_permission(self, request: HttpRequest, obj: AbstractUser | None = None) -> bool:
        return super().has_view_permission(request, obj) and self._may_manage(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: AbstractUser | None = None) -> bool:
        return super().has_change_permission(request, obj) and self._may_manage(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: AbstractUser | None = None) -> bool:
        return super().has_delete_permission(request, obj) and self._may_manage(request, obj)

    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponse:
        # Only a superuser resets an Admin's password: an Admin who could would be any Admin.
        user = self.get_object(request, id)
        if (
            user is not None
            and not request.user.is_superuser
            and user != request.user
            and role_of(user) == ADMIN
        ):
            raise PermissionDenied
        return super().user_change_password(request, id, form_url)

    def save_model(
        self, request: HttpRequest, obj: AbstractUser, form: forms.ModelForm, change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        if "role" in form.changed_data:
            give_role(obj, form.cleaned_data["role"], acting_user=request.user)


admin.site.unregister(User)
admin.site.register(User, PortalUserAdmin)
