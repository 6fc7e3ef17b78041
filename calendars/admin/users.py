"""People: superusers manage accounts fully; the Admin role only hands out the three roles.

The Admin role holds auth.add_user and auth.change_user, with which Django's user admin would
let it set is_superuser, groups and permissions, and reset a superuser's password. Here a
person who is not a superuser gets forms with none of those fields (a posted value is ignored,
as for any field a form does not have), gives each account exactly one role, and cannot open,
change, reset or delete an account holding more than a role gives (a superuser, direct
permissions, another group), nor reset another Admin's password. Usernames are ASCII letters,
digits and . - _ @, unique whatever their case.
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


def _role_field() -> forms.ChoiceField:
    return forms.ChoiceField(choices=[(role, role) for role in ROLES], help_text=ROLE_HELP)


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


def holds_only_a_role(user: AbstractUser) -> bool:
    """True when the account has no power beyond one of the three roles."""
    return (
        not user.is_superuser
        and not user.user_permissions.exists()
        and all(group.name in ROLES for group in user.groups.all())
    )


class PortalUserAdmin(UserAdmin):
    add_form = PortalUserCreationForm
    form = PortalUserChangeForm
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

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="role")
    def role(self, user: AbstractUser) -> str:
        return "superuser" if user.is_superuser else role_of(user) or "none"

    def get_fieldsets(self, request: HttpRequest, obj: AbstractUser | None = None) -> tuple:
        if request.user.is_superuser:
            return super().get_fieldsets(request, obj)
        return self.role_add_fieldsets if obj is None else self.role_fieldsets

    def get_form(
        self, request: HttpRequest, obj: AbstractUser | None = None, **kwargs: object
    ) -> type[forms.ModelForm]:
        if not request.user.is_superuser:
            kwargs["form"] = RoleUserCreationForm if obj is None else RoleUserChangeForm
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
