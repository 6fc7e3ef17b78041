"""The yardstick: a plain ModelAdmin for each measured list, on a second admin site.

Django's defaults on the same rows, with the same search fields and filters written the obvious
way (and plain columns, which need no join); the benchmark prints each page's time beside its
plain counterpart's.
"""

from __future__ import annotations

from django.contrib import admin

from calendars.models import Integration, Meeting, RawCalendar, StatusChange, WebhookDelivery

site = admin.AdminSite(name="plain")


@admin.register(Integration, site=site)
class PlainIntegrationAdmin(admin.ModelAdmin):
    list_display = ("id", "status", "provider", "api_version", "last_refreshed_at")
    list_filter = ("status", "provider")
    search_fields = ("credential__account_email", "credential__customer__name", "=remote_id")


@admin.register(StatusChange, site=site)
class PlainStatusChangeAdmin(admin.ModelAdmin):
    list_display = ("changed_at", "integration_id", "from_status", "to_status", "cause")
    list_filter = ("cause", "to_status")
    search_fields = (
        "integration__credential__account_email",
        "integration__credential__customer__name",
        "=integration__remote_id",
    )


@admin.register(WebhookDelivery, site=site)
class PlainWebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("received_at", "event", "api_version", "outcome", "remote_id")
    list_filter = ("outcome", "event", "api_version")
    search_fields = ("=remote_id", "=delivery_id")


@admin.register(RawCalendar, site=site)
class PlainRawCalendarAdmin(admin.ModelAdmin):
    list_display = ("name", "email", "is_primary", "listed_at")
    search_fields = ("name", "email")


@admin.register(Meeting, site=site)
class PlainMeetingAdmin(admin.ModelAdmin):
    list_display = ("starts_at", "title", "integration_id", "platform", "has_bot", "outcome")
    list_filter = ("has_bot", "outcome", "platform")
    search_fields = (
        "title",
        "integration__credential__account_email",
        "integration__credential__customer__name",
        "=remote_event_id",
    )
