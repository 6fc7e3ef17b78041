"""Admin forms. Secrets are write-only: entered here, never rendered back."""

from __future__ import annotations

import uuid

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from calendars.lib.validators import CONTROL_CHARACTERS
from calendars.meetingbaas.types import Platform
from calendars.models import Credential, OAuthApp

MAX_SECRET_LENGTH = 4096
TENANT_NAMES = {"common", "organizations", "consumers"}


class SecretInput(forms.PasswordInput):
    def __init__(self) -> None:
        super().__init__(render_value=False, attrs={"autocomplete": "new-password"})


class SecretField(forms.CharField):
    """A write-only secret. On an edit form (`SecretFormMixin`) blank keeps the stored one."""

    def __init__(self, label: str, *, must_enter: bool = False) -> None:
        # Always optional to Django, so a blank "keep it" reaches clean(); must_enter refuses it.
        self.must_enter = must_enter
        super().__init__(
            label=label,
            required=False,
            strip=False,
            widget=SecretInput(),
            help_text="Stored encrypted and never shown again.",
        )

    def clean(self, value: str | None) -> str:
        value = super().clean(value) or ""
        if self.must_enter and not value:
            raise ValidationError(f"Enter the {self.label.lower()}.")
        if value and not value.strip():
            raise ValidationError("Only white space was entered.")
        value = value.strip()
        if len(value) > MAX_SECRET_LENGTH:
            raise ValidationError(f"At most {MAX_SECRET_LENGTH} characters.")
        if CONTROL_CHARACTERS.search(value):
            raise ValidationError("Control characters (line breaks, tabs...) are not allowed.")
        return value


class SecretFormMixin:
    """Requires each secret on creation and stores it; on an edit, leaves a new one to the
    admin, which hands it to the action that replaces it and pushes it to live integrations
    (`replacing_action`), so there is one way a secret is replaced."""

    secret_fields: tuple[str, ...] = ()
    replacing_action = ""  # the admin action's name, as the person reads it in the list

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is None:
            return
        for name in self.secret_fields:
            self.fields[name].help_text = (
                "Stored encrypted and never shown again. Leave blank to keep the stored one. "
                "A new one is stored and pushed to the live integrations that use it, exactly "
                f"as the action “{self.replacing_action}” does."
            )

    def clean(self) -> dict:
        cleaned = super().clean()
        # Taken out of cleaned_data so the ModelForm never copies a blank over the stored
        # secret (the admin lists every shown field in Meta.fields, secrets included).
        self.new_secrets = {name: cleaned.pop(name, "") for name in self.secret_fields}
        for name, value in self.new_secrets.items():
            if self.instance.pk is None and not value and name not in self.errors:
                self.add_error(name, "This field is required.")
        return cleaned

    def save(self, commit: bool = True) -> object:
        if self.instance.pk is not None:
            return super().save(commit)  # the admin replaces a new secret through its action
        for name, value in self.new_secrets.items():
            if value:
                setattr(self.instance, name, value)
                # History never holds the secret; this timestamp records that it changed.
                setattr(self.instance, f"{name}_replaced_at", timezone.now())
        return super().save(commit)


class OAuthAppForm(SecretFormMixin, forms.ModelForm):
    secret_fields = ("client_secret",)
    replacing_action = "Rotate client secret"
    client_secret = SecretField("Client secret")

    class Meta:
        model = OAuthApp
        fields = (
            "provider",
            "name",
            "client_id",
            "tenant",
            "needs_calendar_write",
            "publishing_status",
            "client_secret_expires_on",
        )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if "tenant" in self.fields:
            # Blank means "common"; and a Google app has no tenant to require.
            self.fields["tenant"].required = False
            self.fields["tenant"].help_text += " (Microsoft apps only)"

    def clean_tenant(self) -> str:
        provider = self.cleaned_data.get("provider", self.instance.provider)
        if provider != Platform.MICROSOFT:
            # Only Microsoft has tenants (Google's grant never carries one): whatever was posted
            # for another provider is ignored, and the model's default kept.
            return "common"
        tenant = (self.cleaned_data.get("tenant") or "common").strip()
        if tenant.lower() in TENANT_NAMES:
            return tenant.lower()
        try:
            return str(uuid.UUID(tenant))
        except ValueError:
            raise ValidationError(
                "Use common, organizations, consumers or a tenant GUID."
            ) from None

    def clean(self) -> dict:
        cleaned = super().clean()
        # Each provider's own expiry fact: the other's is meaningless and never kept.
        provider = cleaned.get("provider", self.instance.provider)
        if provider != Platform.GOOGLE:
            cleaned["publishing_status"] = ""
        if provider != Platform.MICROSOFT:
            cleaned["client_secret_expires_on"] = None
        return cleaned


class CredentialForm(SecretFormMixin, forms.ModelForm):
    secret_fields = ("refresh_token",)
    replacing_action = "Replace refresh token"
    refresh_token = SecretField("Refresh token")

    class Meta:
        model = Credential
        fields = ("customer", "oauth_app", "account_email", "consented_at")
        help_texts = {
            "consented_at": "When the account's owner granted access, which decides when a "
            "grant expires (Google apps in Testing: 7 days). Blank on a new credential: now. "
            "A new refresh token sets it to now unless you change it here too.",
        }

    def save(self, commit: bool = True) -> object:
        if self.instance.pk is None and self.instance.consented_at is None:
            self.instance.consented_at = timezone.now()  # the person enters a fresh grant
        return super().save(commit)
