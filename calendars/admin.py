"""The admin: presentation and wiring. Every API call goes through `operations`."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from calendars import operations, tasks
from calendars.encryption import SecretUnreadable
from calendars.forms import CredentialForm, OAuthAppForm
from calendars.meetingbaas.errors import MeetingBaasError
from calendars.meetingbaas.types import PortalStatus
from calendars.models import (
    Credential,
    Customer,
    Integration,
    OAuthApp,
    RawCalendar,
    StatusChange,
    WebhookDelivery,
)

PROBLEMS = (MeetingBaasError, SecretUnreadable)


def _link(obj: object, label: str | None = None) -> str:
    url = reverse(f"admin:calendars_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, label or str(obj))


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("name", "external_ref", "created_at")
    search_fields = ("name", "external_ref")


@admin.register(OAuthApp)
class OAuthAppAdmin(admin.ModelAdmin):
    form = OAuthAppForm
    list_display = ("name", "provider", "client_id", "tenant", "updated_at")
    list_filter = ("provider",)
    search_fields = ("name", "client_id")
    fields = ("provider", "name", "client_id", "client_secret", "tenant")


@admin.register(Credential)
class CredentialAdmin(admin.ModelAdmin):
    form = CredentialForm
    list_display = (
        "account_email",
        "customer",
        "oauth_app",
        "provider",
        "last_checked_at",
        "last_check_ok",
    )
    list_filter = ("oauth_app__provider", "last_check_ok")
    list_select_related = ("customer", "oauth_app")
    search_fields = ("account_email", "customer__name")
    autocomplete_fields = ("customer",)
    readonly_fields = (
        "created_at",
        "updated_at",
        "last_checked_at",
        "last_check_ok",
        "last_check_message",
    )
    actions = ("list_raw_calendars",)

    def get_fields(self, request: HttpRequest, obj: Credential | None = None) -> list[str]:
        fields = ["customer", "oauth_app", "account_email", "refresh_token"]
        return fields + list(self.readonly_fields) if obj else fields

    @admin.display(description="Provider", ordering="oauth_app__provider")
    def provider(self, credential: Credential) -> str:
        return credential.oauth_app.get_provider_display()

    @admin.action(description="List raw calendars")
    def list_raw_calendars(
        self, request: HttpRequest, queryset: QuerySet[Credential]
    ) -> HttpResponse:
        results = []
        for credential in queryset.select_related("oauth_app", "customer"):
            try:
                calendars = operations.list_raw_calendars(credential)
            except PROBLEMS as exc:
                self.message_user(request, f"{credential.account_email}: {exc}", messages.ERROR)
                results.append({"credential": credential, "error": str(exc), "calendars": []})
                continue
            live = {
                i.raw_calendar_id: i
                for i in Integration.objects.filter(raw_calendar__in=calendars).exclude(
                    status=PortalStatus.DISCONNECTED
                )
            }
            rows = [{"raw": raw, "integration": live.get(raw.pk)} for raw in calendars]
            results.append({"credential": credential, "calendars": rows, "error": ""})
        context = {
            **self.admin_site.each_context(request),
            "title": "Raw calendars",
            "opts": self.model._meta,
            "results": results,
            "create_url": reverse("admin:calendars_rawcalendar_changelist"),
        }
        return TemplateResponse(request, "admin/calendars/credential/raw_calendars.html", context)


@admin.register(RawCalendar)
class RawCalendarAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "email",
        "is_primary",
        "credential",
        "customer",
        "listed_at",
        "live_integration",
    )
    list_filter = ("is_primary", "credential__oauth_app__provider")
    list_select_related = ("credential__customer", "credential__oauth_app")
    search_fields = ("name", "email", "provider_id", "credential__account_email")
    readonly_fields = ("credential", "provider_id", "name", "email", "is_primary", "listed_at")
    actions = ("create_integration",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # raw calendars come from the API ("List raw calendars" on credentials)

    @admin.display(description="Customer")
    def customer(self, raw: RawCalendar) -> Customer:
        return raw.credential.customer

    @admin.display(description="Integration")
    def live_integration(self, raw: RawCalendar) -> str:
        integration = raw.integrations.exclude(status=PortalStatus.DISCONNECTED).first()
        return _link(integration, integration.status) if integration else "—"

    @admin.action(description="Create integration")
    def create_integration(
        self, request: HttpRequest, queryset: QuerySet[RawCalendar]
    ) -> HttpResponse | None:
        done = []
        for raw in queryset:
            try:
                outcome = operations.create_integration(raw, user=request.user)
            except PROBLEMS as exc:
                self.message_user(
                    request, f"{raw}: could not create the integration. {exc}", messages.ERROR
                )
                continue
            done.append(outcome.integration)
            if not outcome.created:
                status = outcome.integration.status
                text = f"{raw} already has an integration ({status}); none was created."
                self.message_user(request, text, messages.WARNING)
            else:
                adopted = (
                    " (adopted the connection Meeting BaaS already had)" if outcome.adopted else ""
                )
                text = f"{raw}: integration created, status {outcome.integration.status}{adopted}."
                self.message_user(request, text, messages.SUCCESS)
        if len(done) == 1:
            return HttpResponseRedirect(
                reverse("admin:calendars_integration_change", args=[done[0].pk])
            )
        return None


class StatusChangeInline(admin.TabularInline):
    model = StatusChange
    fields = ("changed_at", "from_status", "to_status", "cause", "user", "message")
    readonly_fields = fields
    extra = 0
    can_delete = False
    max_num = 0
    ordering = ("-changed_at", "-id")

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    list_display = (
        "calendar",
        "customer",
        "account",
        "provider",
        "status",
        "error_message",
        "last_refreshed_at",
        "api_version",
    )
    list_filter = (
        "status",
        "credential__oauth_app__provider",
        "api_version",
        "credential__customer",
    )
    list_select_related = ("raw_calendar", "credential__customer", "credential__oauth_app")
    search_fields = ("credential__account_email", "credential__customer__name", "=remote_id")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "credential",
                    "raw_calendar",
                    "remote_id",
                    "api_version",
                    "status",
                    "error_message",
                )
            },
        ),
        (
            "As Meeting BaaS last reported it",
            {
                "fields": (
                    "remote_status",
                    "remote_status_message",
                    "sync_status",
                    "sync_error",
                    "synced_at",
                    "subscription_expires_at",
                    "last_refreshed_at",
                )
            },
        ),
        ("Webhooks", {"fields": ("recent_webhooks",)}),
        ("Record", {"fields": ("created_at", "updated_at")}),
    )
    readonly_fields = flatten_fieldsets(fieldsets)
    inlines = (StatusChangeInline,)
    actions = ("refresh_status",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # integrations are created from raw calendars

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # the row and its history outlive the remote connection

    @admin.display(description="Recent webhook deliveries")
    def recent_webhooks(self, integration: Integration) -> str:
        deliveries = integration.webhook_deliveries.order_by("-received_at", "-id")
        recent = list(deliveries[:10])
        if not recent:
            return "None received."
        event_messages = deliveries.filter(event__startswith="calendar.event_").count()
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((d.received_at, d.event, d.get_outcome_display()) for d in recent),
        )
        url = (
            reverse("admin:calendars_webhookdelivery_changelist") + f"?integration={integration.pk}"
        )
        return format_html(
            "<table><tr><th>Received</th><th>Event</th><th>Outcome</th></tr>{}</table>"
            '<p>{} calendar event message(s) in all. <a href="{}">All deliveries</a></p>',
            rows,
            event_messages,
            url,
        )

    @admin.display(description="Calendar", ordering="raw_calendar__name")
    def calendar(self, integration: Integration) -> str:
        return str(integration.raw_calendar)

    @admin.display(description="Customer", ordering="credential__customer__name")
    def customer(self, integration: Integration) -> str:
        return integration.credential.customer.name

    @admin.display(description="Account", ordering="credential__account_email")
    def account(self, integration: Integration) -> str:
        return integration.credential.account_email

    @admin.display(description="Provider", ordering="credential__oauth_app__provider")
    def provider(self, integration: Integration) -> str:
        return integration.credential.oauth_app.get_provider_display()

    @admin.action(description="Refresh status")
    def refresh_status(self, request: HttpRequest, queryset: QuerySet[Integration]) -> None:
        ids = list(queryset.exclude(status=PortalStatus.DISCONNECTED).values_list("pk", flat=True))
        tasks.enqueue_refresh(ids)
        skipped = queryset.count() - len(ids)
        note = f" ({skipped} disconnected skipped)" if skipped else ""
        self.message_user(
            request, f"Status refresh queued for {len(ids)} integration(s){note}.", messages.SUCCESS
        )


@admin.register(StatusChange)
class StatusChangeAdmin(admin.ModelAdmin):
    list_display = (
        "changed_at",
        "integration",
        "from_status",
        "to_status",
        "cause",
        "user",
        "message",
    )
    list_filter = ("cause", "to_status")
    list_select_related = ("integration__raw_calendar", "user")
    date_hierarchy = "changed_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class IntegrationFilter(admin.SimpleListFilter):
    """Filters by one integration's id without listing every integration as a choice."""

    title = "integration"
    parameter_name = "integration"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        value = self.value()
        integration = Integration.objects.filter(pk=value).first() if str(value).isdigit() else None
        return [(value, str(integration))] if integration else []

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value is None:
            return queryset
        return queryset.filter(integration_id=value) if value.isdigit() else queryset.none()


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "received_at",
        "event",
        "api_version",
        "outcome",
        "integration_link",
        "remote_id",
        "repeats",
    )
    list_filter = ("outcome", "event", "api_version", IntegrationFilter)
    list_select_related = ("integration__raw_calendar",)
    search_fields = ("=remote_id", "=delivery_id")
    date_hierarchy = "received_at"
    fields = (
        "event",
        "api_version",
        "delivery_id",
        "received_at",
        "repeats",
        "event_time",
        "remote_id",
        "integration_link",
        "outcome",
        "error",
        "processed_at",
        "payload_json",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="Integration", ordering="integration")
    def integration_link(self, delivery: WebhookDelivery) -> str:
        if delivery.integration is None:
            return "unknown connection" if delivery.remote_id else "—"
        return _link(delivery.integration)

    @admin.display(description="Payload")
    def payload_json(self, delivery: WebhookDelivery) -> str:
        return format_html("<pre>{}</pre>", json.dumps(delivery.payload, indent=2, sort_keys=True))
