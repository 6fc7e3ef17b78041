"""The messages sent to support (calendars/notify/): a read-only list for every role."""

from __future__ import annotations

from django.contrib import admin

from calendars.admin.common import ReadOnlyAdmin
from calendars.models import SupportNotice


@admin.register(SupportNotice)
class SupportNoticeAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "kind", "sent_at", "email_to", "webhook", "error")
    list_filter = ("kind", "sent_at")
    fields = ("kind", "sent_at", "text", "url", "email_to", "webhook", "error")
    readonly_fields = fields
