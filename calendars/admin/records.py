"""Append-only records: webhook deliveries and the actions people took."""

from __future__ import annotations

import json

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from calendars.admin.common import ReadOnlyAdmin, link
from calendars.models import ActionRecord, Customer, Integration, RefreshRun, WebhookDelivery


class IdFilter(admin.SimpleListFilter):
    """Filters by one related object's id without listing every object as a choice.

    With 10,000 customers or 100,000 integrations a choice list would be the page's cost.
    """

    model: type
    lookup: str

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        value = self.value()
        if value is None:
            return []
        # Django applies a filter only when it offers a choice: offer the one asked for.
        obj = self.model.objects.filter(pk=value).first() if value.isdigit() else None
        return [(value, str(obj) if obj else f"#{value} (not found)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value is None:
            return queryset
        return queryset.filter(**{self.lookup: value}) if value.isdigit() else queryset.none()


class IntegrationFilter(IdFilter):
    title = parameter_name = "integration"
    model = Integration
    lookup = "integration_id"


class CustomerFilter(IdFilter):
    title = parameter_name = "customer"
    model = Customer
    lookup = "credential__customer_id"


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
