"""Integrations, their status timeline, and the auditors' history export."""

from __future__ import annotations

import csv

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from calendars import operations, tasks
from calendars.admin.common import PROBLEMS, ReadOnlyAdmin, allows, render_timeline
from calendars.audit import record_action
from calendars.history import csv_rows, export_entries, integration_timeline
from calendars.meetingbaas.types import PortalStatus
from calendars.models import Credential, Customer, Integration, StatusChange


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
        ("History (newest first)", {"fields": ("timeline",)}),
        ("Webhooks", {"fields": ("recent_webhooks",)}),
        ("Record", {"fields": ("created_at", "updated_at")}),
    )
    readonly_fields = flatten_fieldsets(fieldsets)
    actions = ("refresh_status", "resync")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # integrations are created from raw calendars

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # every change goes through an action that records it

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # the row and its history outlive the remote connection

    def has_refresh_integration_permission(self, request: HttpRequest) -> bool:
        return allows(request, "refresh_integration")

    def has_resync_integration_permission(self, request: HttpRequest) -> bool:
        return allows(request, "resync_integration")

    def get_urls(self) -> list:
        export = self.admin_site.admin_view(self.history_export_view)
        return [
            path("history/export/", export, name="calendars_history_export"),
            *super().get_urls(),
        ]

    @admin.display(description="Timeline")
    def timeline(self, integration: Integration) -> str:
        export = reverse("admin:calendars_history_export") + f"?integration={integration.pk}"
        return render_timeline(integration_timeline(integration), export)

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

    @admin.action(description="Refresh status", permissions=["refresh_integration"])
    def refresh_status(self, request: HttpRequest, queryset: QuerySet[Integration]) -> None:
        live = list(queryset.exclude(status=PortalStatus.DISCONNECTED))
        for integration in live:
            record_action(
                request.user,
                "refresh status",
                integration=integration,
                succeeded=True,
                message="queued",
            )
        tasks.enqueue_refresh([integration.pk for integration in live])
        skipped = queryset.count() - len(live)
        note = f" ({skipped} disconnected skipped)" if skipped else ""
        self.message_user(
            request,
            f"Status refresh queued for {len(live)} integration(s){note}.",
            messages.SUCCESS,
        )

    @admin.action(description="Resync events", permissions=["resync_integration"])
    def resync(self, request: HttpRequest, queryset: QuerySet[Integration]) -> None:
        for integration in queryset.exclude(status=PortalStatus.DISCONNECTED):
            try:
                updated = operations.resync_integration(integration.pk, user=request.user)
            except PROBLEMS as exc:
                record_action(
                    request.user,
                    "resync",
                    integration=integration,
                    succeeded=False,
                    message=str(exc),
                )
                self.message_user(
                    request, f"{integration.raw_calendar}: resync failed. {exc}", messages.ERROR
                )
                continue
            record_action(
                request.user,
                "resync",
                integration=integration,
                succeeded=True,
                message=updated.status,
            )
            self.message_user(
                request, f"{integration.raw_calendar}: resync requested; now {updated.status}."
            )

    def history_export_view(self, request: HttpRequest) -> HttpResponse:
        if not allows(request, "export_history"):
            raise PermissionDenied
        form = HistoryExportForm(request.GET or None, admin_site=self.admin_site)
        if "download" in request.GET and form.is_valid():
            return _stream_csv(form.filters())
        context = {
            **self.admin_site.each_context(request),
            "title": "Export connection history",
            "opts": self.model._meta,
            "form": form,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/calendars/history_export.html", context)


class HistoryExportForm(forms.Form):
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    customer = forms.ModelChoiceField(Customer.objects.all(), required=False)
    integration = forms.ModelChoiceField(Integration.objects.all(), required=False)
    credential = forms.ModelChoiceField(Credential.objects.all(), required=False)

    def __init__(self, *args: object, admin_site: admin.AdminSite, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        # Autocomplete: a plain select would render every customer and integration.
        for name, field in (
            ("customer", Credential._meta.get_field("customer")),
            ("integration", StatusChange._meta.get_field("integration")),
            ("credential", Integration._meta.get_field("credential")),
        ):
            widget = AutocompleteSelect(field, admin_site)
            widget.choices = self.fields[name].choices
            self.fields[name].widget = widget

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("start") and cleaned.get("end") and cleaned["start"] > cleaned["end"]:
            raise forms.ValidationError("The start date is after the end date.")
        return cleaned

    def filters(self) -> dict:
        data = self.cleaned_data
        return {
            "start": data.get("start"),
            "end": data.get("end"),
            "customer_id": data["customer"].pk if data.get("customer") else None,
            "integration_id": data["integration"].pk if data.get("integration") else None,
            "credential_id": data["credential"].pk if data.get("credential") else None,
        }


class _Echo:
    def write(self, value: str) -> str:
        return value


def _stream_csv(filters: dict) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    rows = (writer.writerow(row) for row in csv_rows(export_entries(**filters)))
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    return StreamingHttpResponse(
        rows,
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="connection-history-{stamp}.csv"'},
    )


@admin.register(StatusChange)
class StatusChangeAdmin(ReadOnlyAdmin):
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
