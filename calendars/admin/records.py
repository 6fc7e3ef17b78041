"""Append-only records: webhook deliveries and the actions people took."""

from __future__ import annotations

import json
import uuid

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from calendars.admin.common import ReadOnlyAdmin, excerpt, link, with_job_link
from calendars.models import (
    ActionRecord,
    Credential,
    Customer,
    Integration,
    RefreshRun,
    WebhookDelivery,
)
from calendars.queries.history import status_then
from calendars.templatetags.portal_labels import status_label

# The search box of the history lists: customer name or account e-mail (contained in), or a
# Meeting BaaS id (exact). It is matched through the few credentials and integrations it names,
# one semi-join, rather than an OR across joins evaluated on every one of a million rows.
HISTORY_SEARCH_HELP = "Customer name or account e-mail (part of it), or an exact Meeting BaaS id."


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


def credentials_matching(term: str) -> QuerySet[Credential]:
    """Credentials whose customer's name or account e-mail contains `term`."""
    condition = Q(customer__name__icontains=term) | Q(account_email__icontains=term)
    return Credential.objects.filter(condition).values("pk")


def integrations_matching(term: str) -> QuerySet[Integration]:
    """Integrations of the credentials `term` matches, or whose Meeting BaaS id it is."""
    condition = Q(credential__in=credentials_matching(term))
    if (remote_id := _as_uuid(term)) is not None:
        condition |= Q(remote_id=remote_id)
    return Integration.objects.filter(condition).values("pk")


def _as_uuid(term: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(term)
    except ValueError:
        return None  # not an id: names and e-mails only


def integration_then(integration: Integration | None, status: str) -> str:
    """The integration linked to its page, labelled with the status it had at the row's time."""
    if integration is None:
        return "—"
    return link(integration, f"{integration.raw_calendar} ({status_label(status)})")


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
    fields = (
        "at",
        "action",
        "username",
        "succeeded",
        "integration_then",
        "credential_link",
        "oauth_app_link",
        "raw_calendar_link",
        "message_linked",
    )
    # Fewer columns than the page has fields, to fit the window: what the action was about in
    # one (the raw calendar left out: only a failed create names one), the message's start.
    list_display = ("at", "action", "username", "succeeded", "about", "message_excerpt")
    list_filter = ("action", "succeeded", IntegrationFilter)
    list_select_related = ("integration__raw_calendar", "credential__oauth_app", "oauth_app")
    # What get_search_results matches, listed so the admin shows the box.
    search_fields = (
        "username",
        "action",
        "credential__customer__name",
        "credential__account_email",
        "integration__credential__customer__name",
        "integration__credential__account_email",
        "=integration__remote_id",
    )
    search_help_text = (
        "Who, which action, customer name or account e-mail (part of it), "
        "or an exact Meeting BaaS id."
    )
    date_hierarchy = "at"
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[ActionRecord]:
        return super().get_queryset(request).annotate(integration_status_then=status_then())

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[ActionRecord], search_term: str
    ) -> tuple[QuerySet[ActionRecord], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        about = Q(integration__in=integrations_matching(term)) | Q(
            credential__in=credentials_matching(term)
        )
        who_or_what = Q(username__icontains=term) | Q(action__icontains=term)
        return queryset.filter(who_or_what | about), False

    @admin.display(description="Integration (status then)", ordering="integration")
    def integration_then(self, record: ActionRecord) -> str:
        return integration_then(record.integration, record.integration_status_then)

    @admin.display(description="Credential", ordering="credential")
    def credential_link(self, record: ActionRecord) -> str:
        return link(record.credential) if record.credential else "—"

    @admin.display(description="OAuth app", ordering="oauth_app")
    def oauth_app_link(self, record: ActionRecord) -> str:
        return link(record.oauth_app) if record.oauth_app else "—"

    @admin.display(description="Raw calendar")
    def raw_calendar_link(self, record: ActionRecord) -> str:
        return link(record.raw_calendar) if record.raw_calendar else "—"

    @admin.display(description="Message")
    def message_linked(self, record: ActionRecord) -> str:
        return with_job_link(record.message)

    @admin.display(description="About")
    def about(self, record: ActionRecord) -> str:
        """The integration (with its status then), credential and OAuth app the record names."""
        named = [
            self.integration_then(record) if record.integration else "",
            self.credential_link(record) if record.credential else "",
            self.oauth_app_link(record) if record.oauth_app else "",
        ]
        return format_html_join(mark_safe("<br>"), "{}", ((n,) for n in named if n)) or "—"

    @admin.display(description="Message")
    def message_excerpt(self, record: ActionRecord) -> str:
        return excerpt(record.message, with_job_link)


@admin.register(RefreshRun)
class RefreshRunAdmin(ReadOnlyAdmin):
    # What support reads in a run: whether it worked, what it changed and failed, and why;
    # how it went about it (checked, details fetched) and when it ended are on its page.
    list_display = (
        "started_at",
        "api_version",
        "succeeded",
        "listed",
        "changed",
        "failed",
        "error_excerpt",
    )
    list_filter = ("api_version", "succeeded")
    date_hierarchy = "started_at"

    @admin.display(description="Error")
    def error_excerpt(self, run: RefreshRun) -> str:
        return excerpt(run.error)
