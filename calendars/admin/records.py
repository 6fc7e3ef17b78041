"""Append-only records: webhook deliveries and the actions people took."""

from __future__ import annotations

import json

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from calendars.admin.common import ReadOnlyAdmin, link
from calendars.models import ActionRecord, Integration, RefreshRun, WebhookDelivery


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
class WebhookDeliveryAdmin(ReadOnlyAdmin):
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

    @admin.display(description="Integration", ordering="integration")
    def integration_link(self, delivery: WebhookDelivery) -> str:
        if delivery.integration is None:
            return "unknown connection" if delivery.remote_id else "—"
        return link(delivery.integration)

    @admin.display(description="Payload")
    def payload_json(self, delivery: WebhookDelivery) -> str:
        return format_html("<pre>{}</pre>", json.dumps(delivery.payload, indent=2, sort_keys=True))


@admin.register(ActionRecord)
class ActionRecordAdmin(ReadOnlyAdmin):
    list_display = ("at", "action", "username", "succeeded", "integration", "credential", "message")
    list_filter = ("action", "succeeded", IntegrationFilter)
    list_select_related = ("integration__raw_calendar", "credential__oauth_app")
    search_fields = ("username", "action")
    date_hierarchy = "at"


@admin.register(RefreshRun)
class RefreshRunAdmin(ReadOnlyAdmin):
    list_display = (
        "started_at",
        "api_version",
        "succeeded",
        "listed",
        "checked",
        "details_fetched",
        "changed",
        "failed",
        "finished_at",
        "error",
    )
    list_filter = ("api_version", "succeeded")
    date_hierarchy = "started_at"
