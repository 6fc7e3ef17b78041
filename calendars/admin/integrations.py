"""Integrations, their status timeline, and the auditors' history export."""

from __future__ import annotations

from datetime import datetime

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.contrib.admin.views.main import ChangeList
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst

from calendars.actions.refresh import queue_refresh
from calendars.admin.attention import PARAMETER, AttentionPaginator, ProblemFilter
from calendars.admin.big_lists import EstimatingPaginator, PageByIdsChangeList
from calendars.admin.common import (
    ChangePageAdmin,
    FullHistoryAdmin,
    ReadOnlyAdmin,
    allows,
    csv_download,
    excerpt,
    export_link,
    link,
    render_timeline,
    without_export_unless_allowed,
)
from calendars.admin.fixes import fix_buttons
from calendars.admin.jobs import confirm_and_start
from calendars.admin.records import (
    HISTORY_SEARCH_HELP,
    CustomerFilter,
    integration_search,
    integration_then,
    integrations_matching,
)
from calendars.lib.words import counted
from calendars.meetingbaas.errors import Unreachable
from calendars.models import BulkJob, Credential, Customer, Integration, StatusChange
from calendars.queries.diagnosis import (
    diagnosis_of,
    disconnection_of,
    remedies_for,
    status_note,
)
from calendars.queries.history import csv_rows, export_entries, integration_timeline
from calendars.templatetags.portal_labels import STATUS_LABELS, status_label

# Meetings listed on an integration's page (the rest are one link away).
NEXT_MEETINGS = 10
RESYNC = (
    "Meeting BaaS will fetch each calendar's events again (v2: POST /v2/calendars/{id}/sync; v1: "
    "a resync of all the account's calendars), then each status is refreshed. Safe to repeat."
)
RESUBSCRIBE = (
    "Meeting BaaS will renew each calendar's push subscription (POST "
    "/v2/calendars/{id}/resubscribe), then each status is refreshed. v1 integrations have no "
    "subscription and will fail with that reason."
)
DISCONNECT = (
    "Each connection will be DELETED on Meeting BaaS: this cannot be undone, and bots stop being "
    "scheduled for its meetings. The integrations stay here as disconnected, with their history; "
    "they can be recreated later from their raw calendars."
)
RECREATE = (
    "For each disconnected integration, a new Meeting BaaS connection is created from its raw "
    "calendar with the credential's current refresh token (at most one live integration per raw "
    "calendar). The old integration stays as history."
)


@admin.register(Integration)
class IntegrationAdmin(FullHistoryAdmin, ChangePageAdmin):
    export_scope = "integration"
    # Few columns, so that the list fits a laptop's window beside the filters: the account
    # under its customer, the API version under the provider, Meeting BaaS's message (its
    # start) under the problem; the whole message is on the integration's page.
    list_display = ("calendar", "customer", "provider_and_api", "status", "problem", "refreshed")
    list_filter = ("status", "provider", "api_version", CustomerFilter, ProblemFilter)
    show_full_result_count = False  # one COUNT(*) per page, not two, on a table of 100k rows
    paginator = EstimatingPaginator
    list_select_related = ("raw_calendar", "credential__customer")
    # What get_search_results matches (through records.integration_search), listed so the admin
    # shows the box.
    search_fields = ("credential__account_email", "credential__customer__name", "=remote_id")
    search_help_text = HISTORY_SEARCH_HELP
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "customer_link",
                    "credential",
                    "raw_calendar",
                    "replaces",
                    "replaced_by",
                    "remote_id",
                    "api_version",
                    "status",
                    "status_changed_at",
                    "error_message",
                )
            },
        ),
        (
            "As Meeting BaaS last reported it",
            {
                "fields": (
                    "remote_status_label",
                    "remote_status_message",
                    "sync_status_label",
                    "sync_error",
                    "synced_at",
                    "subscription_expires_at",
                    "last_refreshed_at",
                )
            },
        ),
        ("History (newest first)", {"fields": ("timeline", "history_export")}),
        ("Webhooks", {"fields": ("recent_webhooks",)}),
        ("Record", {"fields": ("created_at", "updated_at")}),
    )
    readonly_fields = flatten_fieldsets(fieldsets)
    actions = ("refresh_status", "resync", "resubscribe", "disconnect", "recreate")
    # The diagnosis and its fix buttons head the page (integration/diagnosis.html).
    change_form_template = "admin/calendars/integration/change_form.html"

    class Media:
        css = {"all": ("calendars/diagnosis.css",)}

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

    def get_paginator(
        self, request: HttpRequest, queryset: QuerySet[Integration], per_page: int, **kwargs: object
    ) -> Paginator:
        if PARAMETER in request.GET:
            return AttentionPaginator(queryset, per_page, **kwargs)
        return super().get_paginator(request, queryset, per_page, **kwargs)

    def get_changelist(self, request: HttpRequest, **kwargs: object) -> type[ChangeList]:
        return PageByIdsChangeList

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Integration], search_term: str
    ) -> tuple[QuerySet[Integration], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(integration_search(term)), False

    def get_urls(self) -> list:
        export = self.admin_site.admin_view(self.history_export_view)
        return [
            path("history/export/", export, name="calendars_history_export"),
            *super().get_urls(),
        ]

    @admin.display(description="Problem")
    def problem(self, integration: Integration) -> str:
        """The diagnosis, with the start of the message (a deliberate disconnection has only
        its message: who did it)."""
        diagnosis = diagnosis_of(integration)
        message = excerpt(integration.error_message)
        if diagnosis is None:
            return message
        if not message:
            return diagnosis.title
        return format_html("{}<br><small>{}</small>", diagnosis.title, message)

    def change_page_context(self, request: HttpRequest, integration: Integration) -> dict:
        diagnosis = diagnosis_of(integration)
        upcoming = integration.meetings.filter(starts_at__gte=timezone.now())
        return {
            "diagnosis": diagnosis,
            "status_note": status_note(integration),
            "disconnection": disconnection_of(integration),
            "fix_buttons": fix_buttons(
                self.admin_site,
                request,
                remedies_for(integration, diagnosis),
                credential=integration.credential,
                integration=integration,
            ),
            "next_meetings": list(upcoming.order_by("starts_at", "pk")[:NEXT_MEETINGS]),
        }

    def get_fieldsets(self, request: HttpRequest, obj: Integration | None = None) -> list:
        return without_export_unless_allowed(request, super().get_fieldsets(request, obj))

    @admin.display(description="Timeline")
    def timeline(self, integration: Integration) -> str:
        return render_timeline(integration_timeline(integration))

    @admin.display(description="Export")
    def history_export(self, integration: Integration) -> str:
        return export_link(integration=integration.pk)

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
            '<p>{} in all. <a href="{}">All deliveries</a></p>',
            rows,
            counted(event_messages, "calendar event message"),
            url,
        )

    @admin.display(description="Calendar", ordering="raw_calendar__name")
    def calendar(self, integration: Integration) -> str:
        return excerpt(str(integration.raw_calendar))

    @admin.display(description="Customer / account", ordering="credential__customer__name")
    def customer(self, integration: Integration) -> str:
        credential = integration.credential
        return format_html(
            "{}<br><small>{}</small>",
            link(credential.customer),
            excerpt(credential.account_email),
        )

    @admin.display(description="Provider", ordering="provider")
    def provider_and_api(self, integration: Integration) -> str:
        return format_html(
            "{}<br><small>API {}</small>",
            integration.get_provider_display(),
            integration.get_api_version_display(),
        )

    @admin.display(description="Refreshed", ordering="last_refreshed_at")
    def refreshed(self, integration: Integration) -> datetime | None:
        return integration.last_refreshed_at

    @admin.display(description="Customer")
    def customer_link(self, integration: Integration) -> str:
        return link(integration.credential.customer)

    @admin.display(description="Replaces")
    def replaces(self, integration: Integration) -> str:
        """The integration of the same raw calendar this one was created after (recreated)."""
        older = _same_calendar(integration).filter(pk__lt=integration.pk).order_by("-pk")
        return self._named(older.first())

    @admin.display(description="Replaced by")
    def replaced_by(self, integration: Integration) -> str:
        newer = _same_calendar(integration).filter(pk__gt=integration.pk).order_by("pk")
        return self._named(newer.first())

    def _named(self, integration: Integration | None) -> str:
        if integration is None:
            return self.get_empty_value_display()
        return format_html(
            "{} ({}, created {})",
            link(integration, f"integration {integration.pk}"),
            integration.get_status_display(),
            date_format(timezone.localtime(integration.created_at), "DATETIME_FORMAT"),
        )

    # Meeting BaaS's words, capitalised as the portal's statuses are.
    @admin.display(description="Remote status")
    def remote_status_label(self, integration: Integration) -> str:
        return capfirst(integration.remote_status) or self.get_empty_value_display()

    @admin.display(description="Sync status")
    def sync_status_label(self, integration: Integration) -> str:
        return capfirst(integration.sync_status) or self.get_empty_value_display()

    @admin.action(description="Refresh status", permissions=["refresh_integration"])
    def refresh_status(self, request: HttpRequest, queryset: QuerySet[Integration]) -> None:
        try:
            queued = queue_refresh(queryset, acting_user=request.user)
        except Unreachable as exc:
            self.message_user(
                request,
                f"Nothing queued: Meeting BaaS unreachable since {exc.message}. Every "
                "integration is refreshed once it answers again; ask again then for one sooner.",
                messages.ERROR,
            )
            return
        skipped = queryset.count() - queued
        note = f" ({skipped} disconnected skipped)" if skipped else ""
        self.message_user(
            request,
            f"Status refresh queued for {counted(queued, 'integration')}{note}.",
            messages.SUCCESS,
        )

    def has_disconnect_integration_permission(self, request: HttpRequest) -> bool:
        return allows(request, "disconnect_integration")

    def has_create_integration_permission(self, request: HttpRequest) -> bool:
        return allows(request, "create_integration")

    @admin.action(description="Resync events", permissions=["resync_integration"])
    def resync(self, request: HttpRequest, queryset: QuerySet[Integration]) -> HttpResponse:
        return self._bulk(
            request, queryset, "resync", BulkJob.Kind.RESYNC, live=True, explanation=RESYNC
        )

    @admin.action(description="Renew push subscription", permissions=["resync_integration"])
    def resubscribe(self, request: HttpRequest, queryset: QuerySet[Integration]) -> HttpResponse:
        return self._bulk(
            request,
            queryset,
            "resubscribe",
            BulkJob.Kind.RESUBSCRIBE,
            live=True,
            explanation=RESUBSCRIBE,
        )

    @admin.action(description="Disconnect", permissions=["disconnect_integration"])
    def disconnect(self, request: HttpRequest, queryset: QuerySet[Integration]) -> HttpResponse:
        return self._bulk(
            request,
            queryset,
            "disconnect",
            BulkJob.Kind.DISCONNECT,
            live=True,
            explanation=DISCONNECT,
        )

    @admin.action(description="Recreate from raw calendar", permissions=["create_integration"])
    def recreate(self, request: HttpRequest, queryset: QuerySet[Integration]) -> HttpResponse:
        return self._bulk(
            request, queryset, "recreate", BulkJob.Kind.RECREATE, live=False, explanation=RECREATE
        )

    def _bulk(
        self,
        request: HttpRequest,
        queryset: QuerySet[Integration],
        action: str,
        kind: str,
        *,
        live: bool,
        explanation: str,
    ) -> HttpResponse:
        selected = queryset.select_related("raw_calendar", "credential__customer")
        # A revoked connection still exists on Meeting BaaS: it can be deleted, not recreated.
        eligible = selected.reachable() if live else selected.gone()
        eligible = list(eligible.order_by("pk"))
        return confirm_and_start(
            self,
            request,
            kind=kind,
            action=action,
            integrations=eligible,
            explanation=explanation,
            skipped=queryset.count() - len(eligible),
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


def _same_calendar(integration: Integration) -> QuerySet[Integration]:
    # A raw calendar has one live integration at most: each of its others was disconnected
    # before the next was created from it (recreated, from the list or the raw calendar's page).
    return Integration.objects.filter(raw_calendar_id=integration.raw_calendar_id)


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


def _stream_csv(filters: dict) -> StreamingHttpResponse:
    return csv_download(csv_rows(export_entries(**filters)), "connection-history")


class ToStatusFilter(admin.SimpleListFilter):
    """The statuses as the lists spell them, not the stored codes Django would list."""

    title = "to status"
    parameter_name = "to_status"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return list(STATUS_LABELS.items())

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        return queryset.filter(to_status=value) if value else queryset


@admin.register(StatusChange)
class StatusChangeAdmin(ReadOnlyAdmin):
    list_display = (
        "changed_at",
        "integration_then",
        "from_status_label",
        "to_status_label",
        "cause",
        "user",
        "message",
    )
    list_filter = ("cause", ToStatusFilter)
    list_select_related = ("integration__raw_calendar", "user")
    # Ten million rows: no second, unfiltered COUNT beside a filtered one, and no date
    # hierarchy (a DISTINCT over every row's truncated date).
    show_full_result_count = False
    paginator = EstimatingPaginator
    # What get_search_results matches (through records.integrations_matching), listed so the
    # admin shows the box.
    search_fields = (
        "integration__credential__customer__name",
        "integration__credential__account_email",
        "=integration__remote_id",
    )
    search_help_text = HISTORY_SEARCH_HELP
    fields = readonly_fields = list_display  # the record's page shows what its row shows

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[StatusChange], search_term: str
    ) -> tuple[QuerySet[StatusChange], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(integration__in=integrations_matching(term)), False

    @admin.display(description="Integration (status then)", ordering="integration")
    def integration_then(self, change: StatusChange) -> str:
        return integration_then(change.integration, change.to_status)

    @admin.display(description="From status", ordering="from_status")
    def from_status_label(self, change: StatusChange) -> str:
        # A first status comes from nothing.
        return status_label(change.from_status) or self.get_empty_value_display()

    @admin.display(description="To status", ordering="to_status")
    def to_status_label(self, change: StatusChange) -> str:
        return status_label(change.to_status)
