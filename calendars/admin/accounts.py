"""Customers, OAuth apps, credentials and raw calendars, with the actions that call the API."""

from __future__ import annotations

from datetime import datetime

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR
from django.contrib.admin.views.main import ChangeList
from django.db.models import Prefetch, QuerySet
from django.forms import Script
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.views.decorators.debug import sensitive_post_parameters

from calendars.actions.credentials import (
    SecretReplaced,
    list_raw_calendars,
    replace_refresh_token,
    rotate_client_secret,
)
from calendars.actions.integrations import create_integration
from calendars.admin import consent, raw_calendars
from calendars.admin.big_lists import EstimatingPaginator, PageByIdsChangeList
from calendars.admin.common import (
    ChangePageAdmin,
    FullHistoryAdmin,
    allows,
    attempt,
    export_link,
    note_the_connection_cap,
    render_timeline,
    warn_near_the_connection_cap,
)
from calendars.admin.fixes import fix_buttons
from calendars.admin.meetings import StartsFilter
from calendars.admin.outreach import take_over_view
from calendars.admin.records import CredentialCustomerFilter, SelectedIdsFilter
from calendars.consent import flow, outreach
from calendars.forms import CredentialForm, OAuthAppForm, SecretField
from calendars.lib.words import counted
from calendars.meetingbaas.types import Platform
from calendars.models import Credential, Customer, Integration, OAuthApp, RawCalendar
from calendars.problems import PROBLEMS
from calendars.queries.customers import (
    customer_overview,
    integration_counts,
    last_week,
    meetings_around,
    ticket_summary,
    with_integration_counts,
)
from calendars.queries.diagnosis import credential_health
from calendars.queries.history import credential_timeline


class CustomerChangeList(ChangeList):
    """The customers list, with each customer's integrations counted by status in its query.

    Only the list counts: the change page, autocompletes and deletions read plain customers.
    """

    def get_queryset(self, request: HttpRequest, exclude_parameters: object = None) -> QuerySet:
        return with_integration_counts(super().get_queryset(request, exclude_parameters))


@admin.register(Customer)
class CustomerAdmin(FullHistoryAdmin, ChangePageAdmin):
    export_scope = "customer"
    list_display = ("name", "external_ref", "created_at", "integrations")
    search_fields = ("name", "external_ref")
    change_form_template = "admin/calendars/customer/change_form.html"
    actions = ("create_connect_link", "create_admin_consent_link")

    class Media:
        css = {"all": ("calendars/customer.css",)}  # status chips, on the list and the page

    def get_changelist(self, request: HttpRequest, **kwargs: object) -> type[ChangeList]:
        return CustomerChangeList

    def has_create_consent_link_permission(self, request: HttpRequest) -> bool:
        return allows(request, "add_consentlink")

    @admin.action(description="Create connect link", permissions=["create_consent_link"])
    def create_connect_link(
        self, request: HttpRequest, queryset: QuerySet[Customer]
    ) -> HttpResponse | None:
        return consent.redirect_to_one(self, request, queryset, consent.connect_link_url)

    @admin.action(description="Create admin consent link", permissions=["create_consent_link"])
    def create_admin_consent_link(
        self, request: HttpRequest, queryset: QuerySet[Customer]
    ) -> HttpResponse | None:
        return consent.redirect_to_one(self, request, queryset, consent.admin_consent_link_url)

    # Sorting by this column puts the customers with the most integrations in error together.
    @admin.display(description="Integrations by status", ordering="integrations_error")
    def integrations(self, customer: Customer) -> str:
        url = reverse("admin:calendars_integration_changelist") + f"?customer={customer.pk}"
        chips = format_html_join(
            " ",
            '<a class="status-chip status-{}" href="{}&amp;status__exact={}">{} {}</a>',
            (
                (status, url, status, count, status.capitalize())
                for status, count in integration_counts(customer)
            ),
        )
        return format_html('{} <a href="{}">All</a>', chips, url) if chips else "None"

    def change_page_context(self, request: HttpRequest, customer: Customer) -> dict:
        overview = customer_overview(customer)
        return {
            "overview": overview,
            "ticket_summary": ticket_summary(overview),
            "integrations_url": reverse("admin:calendars_integration_changelist")
            + f"?customer={customer.pk}",
            # The list action's page, as a button: the person is on the customer already.
            "connect_link_url": consent.connect_link_url(customer)
            if self.has_create_consent_link_permission(request)
            else "",
            "admin_consent_link_url": consent.admin_consent_link_url(customer)
            if self.has_create_consent_link_permission(request)
            else "",
            **self._meetings(request, customer, overview.at),
        }

    def _meetings(self, request: HttpRequest, customer: Customer, at: datetime) -> dict:
        """The customer's meetings around now with their bots and calendars, for those who may
        see meetings; the Meetings list, filtered alike, for the rest."""
        if not allows(request, "view_meeting"):
            return {}
        query = {"customer": customer.pk, "starts": StartsFilter.AROUND_NOW}
        week = last_week(customer, at)
        missed = {
            "customer": customer.pk,
            "start": week.days.first.isoformat(),
            "end": week.days.last.isoformat(),
        }
        return {
            "meetings": meetings_around(customer, at),
            "meetings_url": reverse("admin:calendars_meeting_changelist") + f"?{urlencode(query)}",
            "week": week,
            "week_missed_url": reverse("admin:calendars_meeting_missed") + f"?{urlencode(missed)}",
            "coverage_url": reverse("admin:calendars_meeting_coverage")
            + f"?{urlencode({'customer': customer.pk})}",
        }


@admin.register(OAuthApp)
class OAuthAppAdmin(FullHistoryAdmin):
    form = OAuthAppForm
    list_display = (
        "name",
        "provider",
        "client_id",
        "microsoft_tenant",
        "client_secret_replaced_at",
    )
    list_filter = ("provider",)
    search_fields = ("name", "client_id")
    actions = ("rotate_client_secret",)

    # Each provider's own fields (what decides how long the app's grants and secret live, on the
    # "Expiring soon" list, and Microsoft's tenant and scopes).
    by_provider = {
        Platform.MICROSOFT: ("tenant", "needs_calendar_write", "client_secret_expires_on"),
        Platform.GOOGLE: ("publishing_status",),
    }

    class Media:
        # The add form shows each provider's fieldset only while that provider is chosen.
        js = ("calendars/oauth_app_form.js", Script("calendars/copy_summary.js", defer=True))

    def get_fieldsets(self, request: HttpRequest, obj: OAuthApp | None = None) -> list:
        common = ("provider", "name", "client_id", "client_secret")
        if obj is not None:
            fields = (*common, *self.by_provider.get(obj.provider, ()))
            return [(None, {"fields": (*fields, "client_secret_replaced_at", "redirect_uri")})]
        return [
            (None, {"fields": common}),
            *(
                (
                    f"{provider.capitalize()} apps only",
                    {"classes": (f"provider-{provider}",), "fields": fields},
                )
                for provider, fields in self.by_provider.items()
            ),
            ("Registering the app", {"fields": ("redirect_uri",)}),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: OAuthApp | None = None) -> list[str]:
        if obj is None:
            return ["redirect_uri"]
        # Integrations copy their app's provider, and its credentials' tokens were issued by that
        # provider: an app never changes provider (register a new one instead).
        return ["provider", "client_secret_replaced_at", "redirect_uri"]

    @admin.display(description="Redirect URI")
    def redirect_uri(self, app: OAuthApp) -> str:
        """What to register as the app's redirect URI at Google or Microsoft, to copy."""
        if not settings.PORTAL_PUBLIC_URL:
            return (
                "Set PORTAL_PUBLIC_URL, the portal's public address, first: the redirect URI "
                "is PORTAL_PUBLIC_URL/connect/callback/ (README.md, Configuration)."
            )
        note = (
            " This address opens only on the portal's machine: set PORTAL_PUBLIC_URL before "
            "customers grant access."
            if consent.is_loopback(settings.PORTAL_PUBLIC_URL)
            else ""
        )
        return format_html(
            '<input id="redirect-uri" type="text" readonly size="60" value="{}"> '
            '<button type="button" class="button" id="copy-summary" data-source="redirect-uri">'
            "Copy</button> "
            '<span id="copy-summary-status" role="status"></span>'
            '<div class="help">Register it on the app at Google (Authorized redirect URIs) or '
            "Microsoft (Authentication, Web platform).{}</div>",
            flow.callback_url(),
            note,
        )

    @admin.display(description="Microsoft tenant", ordering="tenant")
    def microsoft_tenant(self, app: OAuthApp) -> str:
        return app.tenant if app.provider == Platform.MICROSOFT else "—"

    def save_model(
        self, request: HttpRequest, app: OAuthApp, form: OAuthAppForm, change: bool
    ) -> None:
        super().save_model(request, app, form, change)
        if change and form.new_secrets["client_secret"]:
            pushed = attempt(
                request,
                f"{app.name}: the new client secret was not stored.",
                rotate_client_secret,
                app.pk,
                form.new_secrets["client_secret"],
            )
            if pushed.succeeded:
                _say_pushed(request, pushed.result)

    @method_decorator(sensitive_post_parameters("client_secret"))
    def changeform_view(
        self, request: HttpRequest, *args: object, **kwargs: object
    ) -> HttpResponse:
        return super().changeform_view(request, *args, **kwargs)

    @method_decorator(sensitive_post_parameters("client_secret"))
    def changelist_view(
        self, request: HttpRequest, *args: object, **kwargs: object
    ) -> HttpResponse:
        return super().changelist_view(request, *args, **kwargs)

    @admin.action(description="Rotate client secret", permissions=["change"])
    def rotate_client_secret(
        self, request: HttpRequest, queryset: QuerySet[OAuthApp]
    ) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(
                request, "Select exactly one OAuth app to rotate its secret.", messages.WARNING
            )
            return None
        app = queryset.get()
        live = Integration.objects.live().filter(credential__oauth_app=app)
        form = RotateClientSecretForm(request.POST if "apply" in request.POST else None)
        if app.provider != Platform.MICROSOFT:
            del form.fields["expires_on"]
        if form.is_bound and form.is_valid():
            done = attempt(
                request,
                f"{app.name}:",
                rotate_client_secret,
                app.pk,
                form.cleaned_data["client_secret"],
            )
            if done.succeeded and form.cleaned_data.get("expires_on"):
                app.refresh_from_db()
                app.client_secret_expires_on = form.cleaned_data["expires_on"]
                app.save(update_fields=["client_secret_expires_on", "updated_at"])
            return _pushing(request, done.result) if done.succeeded else None
        context = {
            **self.admin_site.each_context(request),
            "title": f"Rotate the client secret of {app}",
            "opts": self.model._meta,
            "app": app,
            "form": form,
            "count": live.count(),
        }
        return TemplateResponse(
            request, "admin/calendars/oauthapp/rotate_client_secret.html", context
        )


class RotateClientSecretForm(forms.Form):
    client_secret = SecretField("New client secret", must_enter=True)
    expires_on = forms.DateField(
        label="New secret expires on",
        required=False,
        help_text="As Entra shows it (YYYY-MM-DD); the portal warns before that day.",
    )


class ReplaceRefreshTokenForm(forms.Form):
    refresh_token = SecretField("New refresh token", must_enter=True)


@admin.register(Credential)
class CredentialAdmin(FullHistoryAdmin, ChangePageAdmin):
    export_scope = "credential"
    form = CredentialForm
    list_display = (
        "account_email",
        "customer",
        "oauth_app",
        "provider",
        "last_checked_at",
        "last_check_ok",
    )
    list_filter = (
        "oauth_app__provider",
        "last_check_ok",
        CredentialCustomerFilter,
        SelectedIdsFilter,
    )
    list_select_related = ("customer", "oauth_app")
    search_fields = ("account_email", "customer__name")
    autocomplete_fields = ("customer",)
    # The last check's outcome heads the page, with its diagnosis (credential/diagnosis.html).
    readonly_fields = (
        # Which account a consent link proved (two credentials may share an e-mail).
        "subject",
        "refresh_token_replaced_at",
        "last_used_at",
        "created_at",
        "updated_at",
        "timeline",
        "history_export",  # last: dropped for roles that may not export
    )
    actions = (
        "list_raw_calendars",
        "create_reconsent_link",
        "create_admin_consent_link",
        "replace_refresh_token",
    )
    change_form_template = "admin/calendars/credential/change_form.html"

    class Media:
        css = {"all": ("calendars/customer.css", "calendars/diagnosis.css")}

    def change_page_context(self, request: HttpRequest, credential: Credential) -> dict:
        health = credential_health(credential)
        return {
            "health": health,
            "outreach": outreach.current(credential),
            "may_take_over": self.has_create_consent_link_permission(request),
            "fix_buttons": fix_buttons(
                self.admin_site, request, health.remedies, credential=credential
            ),
            "integrations_url": reverse("admin:calendars_integration_changelist")
            + "?"
            + urlencode({"q": credential.account_email}),
            # For a Microsoft account whose organisation lets only its administrator approve.
            "admin_consent_link_url": consent.admin_consent_link_url(credential)
            if credential.oauth_app.provider == Platform.MICROSOFT
            and allows(request, "add_consentlink")
            else "",
        }

    def save_model(
        self, request: HttpRequest, credential: Credential, form: CredentialForm, change: bool
    ) -> None:
        super().save_model(request, credential, form, change)
        if change and form.new_secrets["refresh_token"]:
            pushed = attempt(
                request,
                f"{credential.account_email}: the new refresh token was not stored.",
                replace_refresh_token,
                credential.pk,
                form.new_secrets["refresh_token"],
            )
            if pushed.succeeded:
                _say_pushed(request, pushed.result)
                if "consented_at" in form.changed_data:
                    # The replacement takes the consent as now; the person said when it was.
                    stored = Credential.objects.get(pk=credential.pk)
                    stored.consented_at = form.cleaned_data["consented_at"]
                    stored.save(update_fields=["consented_at"])

    def response_add(
        self, request: HttpRequest, obj: Credential, post_url_continue: str | None = None
    ) -> HttpResponse:
        refused = self._check_token(request, obj, "added")
        return refused or super().response_add(request, obj, post_url_continue)

    def response_change(self, request: HttpRequest, obj: Credential) -> HttpResponse:
        refused = self._check_token(request, obj, "changed")
        return refused or super().response_change(request, obj)

    def _check_token(self, request: HttpRequest, obj: Credential, done: str) -> HttpResponse | None:
        """Check a saved credential's token with a raw-calendar listing (recorded, like the
        action). None when it works, so the admin's usual success follows; otherwise a warning
        and the credential's page, where the check's diagnosis is."""
        # Read again: a token replaced on the edit form was stored by its action, not on `obj`.
        credential = Credential.objects.select_related("oauth_app", "customer").get(pk=obj.pk)
        try:
            listed = list_raw_calendars(credential, acting_user=request.user)
        except PROBLEMS as exc:
            outcome = (
                "its refresh token could not be checked now (try “List raw calendars” later)"
                if getattr(exc, "transient", False)
                else "the check of its refresh token failed"
            )
            self.message_user(
                request,
                f"The credential {credential.account_email} was {done}, but {outcome}: {exc}",
                messages.WARNING,
            )
            if IS_POPUP_VAR in request.POST:
                return None  # the popup must still hand the new credential to its opener
            return HttpResponseRedirect(
                reverse("admin:calendars_credential_change", args=[credential.pk])
            )
        self.message_user(
            request,
            f"Refresh token checked: {counted(len(listed), 'calendar')} listed.",
            messages.INFO,
        )
        return None

    def get_fields(self, request: HttpRequest, obj: Credential | None = None) -> list[str]:
        fields = ["customer", "oauth_app", "account_email", "refresh_token", "consented_at"]
        if obj is None:
            return fields
        # Only Microsoft refresh tokens die unused (90 days): when the portal last used it.
        shown = [
            *fields,
            *(
                name
                for name in self.readonly_fields
                if name != "last_used_at" or obj.provider == Platform.MICROSOFT
            ),
        ]
        return shown if allows(request, "export_history") else shown[:-1]

    @method_decorator(sensitive_post_parameters("refresh_token"))
    def changeform_view(
        self, request: HttpRequest, *args: object, **kwargs: object
    ) -> HttpResponse:
        return super().changeform_view(request, *args, **kwargs)

    @method_decorator(sensitive_post_parameters("refresh_token"))
    def changelist_view(
        self, request: HttpRequest, *args: object, **kwargs: object
    ) -> HttpResponse:
        return super().changelist_view(request, *args, **kwargs)

    def get_urls(self) -> list:
        take_over = self.admin_site.admin_view(take_over_view)
        return [
            path(
                "<int:credential_id>/take-over/", take_over, name="calendars_credential_take_over"
            ),
            *super().get_urls(),
        ]

    def has_list_raw_calendars_permission(self, request: HttpRequest) -> bool:
        return allows(request, "list_raw_calendars")

    def has_create_consent_link_permission(self, request: HttpRequest) -> bool:
        return allows(request, "add_consentlink")

    def has_replace_refresh_token_permission(self, request: HttpRequest) -> bool:
        return allows(request, "replace_refresh_token")

    @admin.display(description="Provider", ordering="oauth_app__provider")
    def provider(self, credential: Credential) -> str:
        return credential.oauth_app.get_provider_display()

    @admin.display(description="History (newest first)")
    def timeline(self, credential: Credential) -> str:
        return render_timeline(credential_timeline(credential))

    @admin.display(description="Export")
    def history_export(self, credential: Credential) -> str:
        return export_link(credential=credential.pk)

    @admin.action(description="List raw calendars", permissions=["list_raw_calendars"])
    def list_raw_calendars(
        self, request: HttpRequest, queryset: QuerySet[Credential]
    ) -> HttpResponse:
        listings = []
        for credential in queryset.select_related("oauth_app", "customer"):
            listed = attempt(
                request, f"{credential.account_email}:", list_raw_calendars, credential
            )
            listings.append(raw_calendars.Listing(credential, listed.result or [], listed.problem))
        return raw_calendars.render_listings(self, request, listings)

    @admin.action(description="Create re-consent link", permissions=["create_consent_link"])
    def create_reconsent_link(
        self, request: HttpRequest, queryset: QuerySet[Credential]
    ) -> HttpResponse | None:
        return consent.redirect_to_one(self, request, queryset, consent.reconsent_link_url)

    @admin.action(description="Create admin consent link", permissions=["create_consent_link"])
    def create_admin_consent_link(
        self, request: HttpRequest, queryset: QuerySet[Credential]
    ) -> HttpResponse | None:
        return consent.redirect_to_one(self, request, queryset, consent.admin_consent_link_url)

    @admin.action(description="Replace refresh token", permissions=["replace_refresh_token"])
    def replace_refresh_token(
        self, request: HttpRequest, queryset: QuerySet[Credential]
    ) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(
                request,
                "Select exactly one credential to replace its refresh token.",
                messages.WARNING,
            )
            return None
        credential = queryset.select_related("customer", "oauth_app").get()
        form = ReplaceRefreshTokenForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            done = attempt(
                request,
                f"{credential.account_email}:",
                replace_refresh_token,
                credential.pk,
                form.cleaned_data["refresh_token"],
            )
            if not done.succeeded:
                return None
            # As on the edit form, the new token is checked at once (its outcome is said on the
            # next page); then the push's progress, or the credential when nothing uses it.
            pushing = _pushing(request, done.result)
            self._check_token(request, credential, "given a new refresh token")
            return pushing or HttpResponseRedirect(
                reverse("admin:calendars_credential_change", args=[credential.pk])
            )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Replace the refresh token of {credential.account_email}",
            "opts": self.model._meta,
            "credential": credential,
            "form": form,
            "integrations": credential.integrations.pushable().select_related("raw_calendar"),
        }
        return TemplateResponse(
            request, "admin/calendars/credential/replace_refresh_token.html", context
        )


def _pushing(request: HttpRequest, replaced: SecretReplaced) -> HttpResponse | None:
    """Say where the new secret went, and show the push's progress when there is one."""
    if replaced.job is None:
        messages.success(request, f"The {replaced.what} is stored; no live integration uses it.")
        return None
    messages.success(
        request,
        f"The {replaced.what} is stored; pushing it to "
        f"{counted(replaced.pushed_to, 'integration')}.",
    )
    return HttpResponseRedirect(reverse("admin:calendars_bulkjob_change", args=[replaced.job.pk]))


def _say_pushed(request: HttpRequest, replaced: SecretReplaced) -> None:
    """Say where a secret entered on an edit form went: the same push as the actions start."""
    if replaced.job is None:
        messages.success(request, f"The {replaced.what} is stored; no live integration uses it.")
        return
    url = reverse("admin:calendars_bulkjob_change", args=[replaced.job.pk])
    messages.success(
        request,
        format_html(
            'The {} is stored; pushing it to {}: <a href="{}">bulk job {}</a>.',
            replaced.what,
            counted(replaced.pushed_to, "integration"),
            url,
            replaced.job.pk,
        ),
    )


@admin.register(RawCalendar)
class RawCalendarAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "email",
        "primary",
        "credential",
        "customer",
        "listed_at",
        "live_integration",
    )
    list_filter = ("is_primary", "credential__oauth_app__provider")
    list_select_related = ("credential__customer", "credential__oauth_app")
    # As many rows as integrations: one count per page, an estimate when unfiltered.
    show_full_result_count = False
    paginator = EstimatingPaginator
    search_fields = ("name", "email", "provider_id", "credential__account_email")
    # "primary" rather than the field: a plain yes or no, not the red cross of a failure.
    fields = ("credential", "provider_id", "name", "email", "primary", "listed_at")
    readonly_fields = fields
    actions = ("create_integration",)

    class Media:
        css = {"all": ("calendars/customer.css",)}  # status chips

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # raw calendars come from the API ("List raw calendars" on credentials)

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # what the provider listed is not ours to edit

    def has_create_integration_permission(self, request: HttpRequest) -> bool:
        return allows(request, "create_integration")

    def changelist_view(
        self, request: HttpRequest, extra_context: dict | None = None
    ) -> HttpResponse:
        # Before "Create integration" is chosen; after it, its own words stand alone.
        waiting = len(messages.get_messages(request))
        if request.method == "GET" and not waiting and allows(request, "create_integration"):
            note_the_connection_cap(request)
        return super().changelist_view(request, extra_context)

    def get_changelist(self, request: HttpRequest, **kwargs: object) -> type[ChangeList]:
        return PageByIdsChangeList  # ordered by the account's e-mail first

    def get_queryset(self, request: HttpRequest) -> QuerySet[RawCalendar]:
        # The live integrations of a page's raw calendars in one query, not one per row; a
        # prefetch rather than a join, so that the list's count reads the raw calendars alone.
        live = Prefetch("integrations", Integration.objects.live(), to_attr="live_integrations")
        return super().get_queryset(request).prefetch_related(live)

    def get_urls(self) -> list:
        create = self.admin_site.admin_view(self.create_from_listing_view)
        return [
            path(
                "create-from-listing/",
                create,
                name="calendars_rawcalendar_create_from_listing",
            ),
            *super().get_urls(),
        ]

    def create_from_listing_view(self, request: HttpRequest) -> HttpResponse:
        return raw_calendars.create_from_listing(self, request)

    @admin.display(description="Primary", ordering="is_primary")
    def primary(self, raw: RawCalendar) -> str:
        return "Yes" if raw.is_primary else "No"

    @admin.display(description="Customer")
    def customer(self, raw: RawCalendar) -> Customer:
        return raw.credential.customer

    @admin.display(description="Integration")
    def live_integration(self, raw: RawCalendar) -> str:
        integration = next(iter(raw.live_integrations), None)  # at most one is live
        if integration is None:
            return "—"
        url = reverse("admin:calendars_integration_change", args=[integration.pk])
        return format_html(
            '<a class="status-chip status-{}" href="{}">{}</a>',
            integration.status,
            url,
            integration.get_status_display(),
        )

    @admin.action(description="Create integration", permissions=["create_integration"])
    def create_integration(
        self, request: HttpRequest, queryset: QuerySet[RawCalendar]
    ) -> HttpResponse | None:
        warn_near_the_connection_cap(request, len(queryset))
        done = []
        for raw in queryset:
            created = attempt(
                request, f"{raw}: could not create the integration.", create_integration, raw
            )
            if not created.succeeded:
                continue
            outcome = created.result
            done.append(outcome.integration)
            level = messages.SUCCESS if outcome.created else messages.WARNING
            self.message_user(request, outcome.summary(raw), level)
        if len(done) == 1:
            return HttpResponseRedirect(
                reverse("admin:calendars_integration_change", args=[done[0].pk])
            )
        return None
