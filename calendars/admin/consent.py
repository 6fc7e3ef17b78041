"""Consent links in the admin: made from a customer (connect) or a credential (re-consent),
or from either for a customer's Microsoft administrator (admin consent), listed with what
became of them, and revoked.

A link's URL exists once, on the page shown to the person who made it: the database keeps
only its hash.
"""

from __future__ import annotations

import ipaddress
import logging
import smtplib
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format

from calendars.admin.common import allows, link
from calendars.consent import links, mail
from calendars.lib.words import counted
from calendars.meetingbaas.types import Platform
from calendars.models import ConsentLink, Credential, Customer, OAuthApp

logger = logging.getLogger(__name__)
# PORTAL_COMPANY_NAME's default: the consent pages would name no real company.
DEFAULT_COMPANY_NAME = "Our company"


# ConsentLink.state's values, as people read them.
STATE_LABELS = {
    "open": "Waiting for the customer",
    "used": "Used",
    "expired": "Expired",
    "revoked": "Revoked",
}


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return list(STATE_LABELS.items())

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        now = timezone.now()
        unused = queryset.filter(used_at__isnull=True, revoked_at__isnull=True)
        match self.value():
            case "open":
                return unused.filter(expires_at__gt=now)
            case "used":
                return queryset.filter(used_at__isnull=False)
            case "expired":
                return unused.filter(expires_at__lte=now)
            case "revoked":
                return queryset.filter(revoked_at__isnull=False)
        return queryset


class OutcomeFilter(admin.SimpleListFilter):
    """The attempts' outcomes; a link nobody has used yet is the state filter's business (its
    outcome field says "waiting" even once it is revoked or expired)."""

    title = "outcome"
    parameter_name = "outcome"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [c for c in ConsentLink.Outcome.choices if c[0] != ConsentLink.Outcome.WAITING]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(outcome=self.value()) if self.value() else queryset


class ConnectLinkForm(forms.Form):
    oauth_apps = forms.ModelMultipleChoiceField(
        label="Grant through",
        queryset=OAuthApp.objects.all(),
        widget=forms.CheckboxSelectMultiple,
        help_text="One per provider: the person picks Google or Microsoft among those ticked.",
    )
    create_integrations = forms.ChoiceField(
        label="Integrations to create",
        choices=ConsentLink.Create.choices,
        initial=ConsentLink.Create.PRIMARY,
    )
    send_to = forms.EmailField(
        label="Send by e-mail to",
        required=False,
        help_text="Optional. The link is shown either way.",
    )

    def clean_oauth_apps(self) -> list[OAuthApp]:
        apps = list(self.cleaned_data["oauth_apps"])
        providers = [app.provider for app in apps]
        if len(set(providers)) != len(providers):
            raise forms.ValidationError("Tick at most one OAuth app per provider.")
        return apps


class ReconsentLinkForm(forms.Form):
    send_to = forms.EmailField(
        label="Send by e-mail to",
        required=False,
        help_text="Optional. The link is shown either way.",
    )


class AdminConsentLinkForm(forms.Form):
    oauth_app = forms.ModelChoiceField(
        label="Microsoft OAuth app",
        queryset=OAuthApp.objects.filter(provider=Platform.MICROSOFT),
        empty_label=None,
        help_text="The app the customer's administrator approves for their organisation.",
    )


@admin.register(ConsentLink)
class ConsentLinkAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "customer",
        "account",
        "state_label",
        "outcome_label",
        "opened_count",
        "created_by",
        "created_at",
        "expires_at",
    )
    list_filter = (StateFilter, "kind", OutcomeFilter, "created_at")
    list_select_related = ("customer", "credential", "created_by", "revoked_by")
    search_fields = ("customer__name", "credential__account_email", "granted_by_email")
    fields = (
        "kind",
        "customer",
        "credential",
        "for_link",
        "oauth_apps",
        "create_integrations",
        "state_label",
        "created_by",
        "created_at",
        "expires_at",
        "sent_to",
        "opened_count",
        "last_opened_at",
        "used_at",
        "outcome_label",
        "outcome_message",
        "outcome_at",
        "granted_by_email",
        "revoked_at",
        "revoked_by",
    )
    readonly_fields = fields
    actions = ("revoke_links",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # links are made from a customer or a credential (the views below)

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # a link is evidence of who asked whom for access

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return allows(request, "change_consentlink")

    @admin.display(description="Account")
    def account(self, consent_link: ConsentLink) -> str:
        return consent_link.credential.account_email if consent_link.credential else "—"

    @admin.display(description="State")
    def state_label(self, consent_link: ConsentLink) -> str:
        return STATE_LABELS[consent_link.state]

    @admin.display(description="Outcome", ordering="outcome")
    def outcome_label(self, consent_link: ConsentLink) -> str:
        """The last attempt's outcome; a link revoked, or expired unused, says that instead."""
        if consent_link.revoked_at:
            by = f" by {consent_link.revoked_by}" if consent_link.revoked_by else ""
            when = date_format(timezone.localtime(consent_link.revoked_at), "DATETIME_FORMAT")
            return f"Revoked{by} {when}"
        if consent_link.outcome == ConsentLink.Outcome.WAITING and consent_link.state == "expired":
            return "Expired unused"
        return consent_link.get_outcome_display()

    @admin.action(description="Revoke link", permissions=["revoke"])
    def revoke_links(
        self, request: HttpRequest, queryset: QuerySet[ConsentLink]
    ) -> HttpResponse | None:
        if "confirm" not in request.POST:
            return self._confirm_revoke(request, queryset)
        revoked = [item for item in queryset if links.revoke(item, acting_user=request.user)]
        left = queryset.count() - len(revoked)
        names = ", ".join(str(item) for item in revoked)
        message = f"{counted(len(revoked), 'link')} revoked{f': {names}' if names else ''}."
        if left:
            message += f" {left} already used or revoked: unchanged."
        self.message_user(request, message, messages.SUCCESS if revoked else messages.WARNING)
        return None

    def _confirm_revoke(
        self, request: HttpRequest, queryset: QuerySet[ConsentLink]
    ) -> TemplateResponse:
        chosen = list(queryset.select_related("customer", "credential", "created_by"))
        return TemplateResponse(
            request,
            "admin/calendars/consentlink/confirm_revoke.html",
            {
                **self.admin_site.each_context(request),
                "title": "Revoke consent links?",
                "opts": self.model._meta,
                "chosen": chosen,
                "to_revoke": [item for item in chosen if item.state in ("open", "expired")],
                "unchanged": [item for item in chosen if item.state in ("used", "revoked")],
            },
        )

    def get_urls(self) -> list:
        return [
            path(
                "new/connect/<int:customer_id>/",
                self.admin_site.admin_view(self.connect_view),
                name="calendars_consentlink_connect",
            ),
            path(
                "new/reconsent/<int:credential_id>/",
                self.admin_site.admin_view(self.reconsent_view),
                name="calendars_consentlink_reconsent",
            ),
            path(
                "new/admin-consent/<int:customer_id>/",
                self.admin_site.admin_view(self.admin_consent_view),
                name="calendars_consentlink_admin_consent",
            ),
            path(
                "new/admin-consent/credential/<int:credential_id>/",
                self.admin_site.admin_view(self.credential_admin_consent_view),
                name="calendars_consentlink_credential_admin_consent",
            ),
            *super().get_urls(),
        ]

    def _may_create(self, request: HttpRequest) -> None:
        if not allows(request, "add_consentlink"):
            raise PermissionDenied

    def _unconfigured(self, request: HttpRequest, back: str) -> HttpResponse | None:
        if settings.PORTAL_PUBLIC_URL:
            return None
        messages.error(
            request,
            "Consent links need PORTAL_PUBLIC_URL, the portal's public address (README.md, "
            "Configuration): ask whoever runs the portal to set it.",
        )
        return HttpResponseRedirect(back)

    def _warn_about_setup(self, request: HttpRequest) -> None:
        for warning in setup_warnings():
            messages.warning(request, warning)

    def connect_view(self, request: HttpRequest, customer_id: int) -> HttpResponse:
        self._may_create(request)
        customer = get_object_or_404(Customer, pk=customer_id)
        if refused := self._unconfigured(request, link_url(customer)):
            return refused
        initial = {"oauth_apps": _one_app_per_provider()}
        form = _without_mail(ConnectLinkForm(_posted(request), initial=initial))
        if request.method == "POST" and form.is_valid():
            new = links.create_connect_link(
                customer,
                form.cleaned_data["oauth_apps"],
                create_integrations=form.cleaned_data["create_integrations"],
                acting_user=request.user,
            )
            return self._created(request, new, form.cleaned_data.get("send_to", ""))
        return self._form(request, form, f"Connect link for {customer}", customer=customer)

    def reconsent_view(self, request: HttpRequest, credential_id: int) -> HttpResponse:
        self._may_create(request)
        credential = get_object_or_404(
            Credential.objects.select_related("customer", "oauth_app"), pk=credential_id
        )
        if refused := self._unconfigured(request, link_url(credential)):
            return refused
        form = _without_mail(ReconsentLinkForm(_posted(request)))
        if "send_to" in form.fields:
            form.fields["send_to"].help_text = (
                f"Optional, e.g. the account's own address, {credential.account_email}. "
                "The link is shown either way."
            )
        if request.method == "POST" and form.is_valid():
            new = links.create_reconsent_link(credential, acting_user=request.user)
            return self._created(request, new, form.cleaned_data.get("send_to", ""))
        return self._form(
            request,
            form,
            f"Re-consent link for {credential.account_email}",
            credential=credential,
            customer=credential.customer,
            waiting=links.waiting_reconsent(credential).first(),
        )

    def admin_consent_view(self, request: HttpRequest, customer_id: int) -> HttpResponse:
        """An admin consent link for a customer's Microsoft administrator, through one of the
        Microsoft apps."""
        self._may_create(request)
        customer = get_object_or_404(Customer, pk=customer_id)
        if refused := self._unconfigured(request, link_url(customer)):
            return refused
        if not OAuthApp.objects.filter(provider=Platform.MICROSOFT).exists():
            messages.error(
                request, "Admin consent is Microsoft's: add a Microsoft OAuth app first."
            )
            return HttpResponseRedirect(link_url(customer))
        form = AdminConsentLinkForm(_posted(request))
        if request.method == "POST" and form.is_valid():
            new = links.create_admin_consent_link(
                customer, form.cleaned_data["oauth_app"], acting_user=request.user
            )
            return self._created(request, new, "")
        title = f"Admin consent link for {customer}"
        return self._form(request, form, title, customer=customer, admin_consent=True)

    def credential_admin_consent_view(
        self, request: HttpRequest, credential_id: int
    ) -> HttpResponse:
        """An admin consent link for the organisation of a Microsoft credential's account."""
        self._may_create(request)
        credential = get_object_or_404(
            Credential.objects.select_related("customer", "oauth_app"), pk=credential_id
        )
        back = link_url(credential)
        if refused := self._unconfigured(request, back):
            return refused
        if credential.oauth_app.provider != Platform.MICROSOFT:
            messages.error(request, "Admin consent is Microsoft's: this credential is not.")
            return HttpResponseRedirect(back)
        if request.method == "POST":
            new = links.create_admin_consent_link(
                credential.customer,
                credential.oauth_app,
                credential=credential,
                acting_user=request.user,
            )
            return self._created(request, new, "")
        return self._form(
            request,
            forms.Form(),
            f"Admin consent link for {credential.account_email}'s organisation",
            credential=credential,
            customer=credential.customer,
            admin_consent=True,
        )

    def _form(self, request: HttpRequest, form: forms.Form, title: str, **context) -> HttpResponse:
        self._warn_about_setup(request)
        return TemplateResponse(
            request,
            "admin/calendars/consentlink/create.html",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "opts": self.model._meta,
                "form": form,
                "days": settings.CONSENT_LINK_DAYS,
                **context,
            },
        )

    def _created(self, request: HttpRequest, new: links.NewLink, send_to: str) -> HttpResponse:
        sent = ""
        if send_to:
            try:
                mail.send_link(new, send_to)
                sent = send_to
            except (smtplib.SMTPException, OSError) as exc:
                logger.warning("consent link %s: e-mail not sent: %s", new.link.pk, exc)
                messages.error(
                    request,
                    f"The link was made but the e-mail to {send_to} could not be sent "
                    f"({type(exc).__name__}). Copy the link below and send it yourself.",
                )
        self._warn_about_setup(request)
        return TemplateResponse(
            request,
            "admin/calendars/consentlink/created.html",
            {
                **self.admin_site.each_context(request),
                "title": f"{new.link.get_kind_display()} link {new.link.pk} made",
                "opts": self.model._meta,
                "new": new,
                "sent": sent,
                "link_page": link(new.link, f"link {new.link.pk}"),
            },
        )


def setup_warnings() -> list[str]:
    """What in the portal's configuration makes a link fail or mislead the customer."""
    warnings = []
    if is_loopback(settings.PORTAL_PUBLIC_URL):
        warnings.append(
            f"Links start with {settings.PORTAL_PUBLIC_URL}, an address of this machine only: "
            "the customer cannot open them from theirs. Set PORTAL_PUBLIC_URL to the portal's "
            "public address (README.md, Configuration)."
        )
    if settings.PORTAL_COMPANY_NAME == DEFAULT_COMPANY_NAME:
        warnings.append(
            f'The pages the customer sees name the company "{DEFAULT_COMPANY_NAME}": set '
            "PORTAL_COMPANY_NAME to the name they know you by (README.md, Configuration)."
        )
    if not settings.PORTAL_CONTACT_EMAIL:
        warnings.append(
            "The pages the customer sees give no address to write to with a question: set "
            "PORTAL_CONTACT_EMAIL (README.md, Configuration)."
        )
    return warnings


def is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _without_mail[F: forms.Form](form: F) -> F:
    # No mailer configured (EMAIL_URL): the link is only shown, to be copied.
    if not mail.available():
        del form.fields["send_to"]
    return form


def _posted(request: HttpRequest) -> object:
    # An empty POST (nothing to fill in) is still a submission.
    return request.POST if request.method == "POST" else None


def _one_app_per_provider() -> list[OAuthApp]:
    """The first OAuth app of each provider: what a new link offers unless told otherwise."""
    firsts = [OAuthApp.objects.filter(provider=p).order_by("pk").first() for p in Platform]
    return [app for app in firsts if app is not None]


def link_url(obj: Customer | Credential) -> str:
    return reverse(f"admin:calendars_{obj._meta.model_name}_change", args=[obj.pk])


def connect_link_url(customer: Customer) -> str:
    return reverse("admin:calendars_consentlink_connect", args=[customer.pk])


def admin_consent_link_url(obj: Customer | Credential) -> str:
    if isinstance(obj, Credential):
        return reverse("admin:calendars_consentlink_credential_admin_consent", args=[obj.pk])
    return reverse("admin:calendars_consentlink_admin_consent", args=[obj.pk])


def reconsent_link_url(credential: Credential) -> str:
    return reverse("admin:calendars_consentlink_reconsent", args=[credential.pk])


def redirect_to_one(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet, url_of
) -> HttpResponse | None:
    """For the "Create … link" actions: a link is made for one selected object at a time."""
    if queryset.count() != 1:
        modeladmin.message_user(request, "Select exactly one to make a link for.", messages.WARNING)
        return None
    return HttpResponseRedirect(url_of(queryset.get()))
