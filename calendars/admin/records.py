"""Append-only records: webhook deliveries and the actions people took."""

from __future__ import annotations

import json
import uuid

from django.contrib import admin, messages
from django.db import connections
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from calendars.actions.webhook_deliveries import EVENTS
from calendars.admin.big_lists import EstimatingPaginator
from calendars.admin.common import ReadOnlyAdmin, excerpt, link, with_job_link
from calendars.lib.validators import as_id
from calendars.models import (
    ActionRecord,
    Credential,
    Customer,
    Integration,
    Meeting,
    RefreshRun,
    WebhookDelivery,
)
from calendars.queries.history import status_then
from calendars.templatetags.portal_labels import status_label

# The search box of the integration, history and meeting lists: customer name or account
# e-mail (contained in; a meeting's title too), or a Meeting BaaS id (exact). It is matched
# through the few customers, credentials, integrations and meetings it names, each field on
# its own table and through its own index (trigram indexes on PostgreSQL, a trigram table for
# meeting titles on SQLite), rather than an OR across joins evaluated on every one of a
# million rows.
HISTORY_SEARCH_HELP = "Customer name or account e-mail (part of it), or an exact Meeting BaaS id."

# A search reads the ids of the customers and credentials it matches first, up to this many.
IDS_READ_FIRST = 1000
# SQLite's index of meeting titles (migration 0022), an FTS5 table of their trigrams: the ids
# of the meetings whose title a phrase is part of.
TITLES_MATCHING = "SELECT rowid FROM meeting_title_trigram WHERE meeting_title_trigram MATCH %s"
# On SQLite, the meetings whose title contains a term are read through that index when it
# finds at most this many; past that, at least one meeting in 50 of a million has it, and
# the list's own order finds a page of them sooner than the index lists them all.
TITLES_THROUGH_INDEX = 20_000


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
        pk = as_id(value)
        obj = self.model.objects.filter(pk=pk).first() if pk else None
        return [(value, str(obj) if obj else f"#{value} (not found)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value is None:
            return queryset
        pk = as_id(value)
        if pk is None:
            name = self.model._meta.verbose_name
            messages.warning(request, f"“{value[:40]}” is not the id of a {name}: nothing listed.")
            return queryset.none()
        return queryset.filter(**{self.lookup: pk})


class SelectedIdsFilter(admin.SimpleListFilter):
    """Exactly the rows a link names by id (`?id__in=3,5,8`): how the home page's worklist
    links to the credentials of one group."""

    title = "selected"
    parameter_name = "id__in"
    LIMIT = 500

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        value = self.value()
        return [] if value is None else [(value, f"{len(self.ids())} selected")]

    def ids(self) -> list[int]:
        parts = (self.value() or "").split(",")[: self.LIMIT]
        return [pk for pk in map(as_id, parts) if pk is not None]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() is None:
            return queryset
        return queryset.filter(pk__in=self.ids())


def customers_named(term: str) -> list[int] | QuerySet[Customer]:
    """Customers whose name contains `term`."""
    return _ids(Customer.objects.filter(name__icontains=term))


def credentials_matching(term: str) -> list[int] | QuerySet[Credential]:
    """Credentials whose account e-mail or customer's name contains `term`."""
    customers = customers_named(term)
    condition = Q(account_email__icontains=term) | Q(customer__in=customers)
    return _ids(Credential.objects.filter(condition))


def _ids(queryset: QuerySet) -> list[int] | QuerySet:
    """The ids `queryset` selects, read now: the next table is then read through its index
    on them. Past IDS_READ_FIRST, the query itself (a term that common finds a page of rows in
    the list's own order at once)."""
    # In no order: sorting every match to keep the first would read them all.
    ids = list(queryset.order_by().values_list("pk", flat=True)[: IDS_READ_FIRST + 1])
    return ids if len(ids) <= IDS_READ_FIRST else queryset.values("pk")


def integration_search(term: str) -> Q:
    """The integrations a search for `term` finds: the one whose Meeting BaaS id it is, read
    through the unique index (an id is never part of a name or an e-mail), or else those of
    the credentials it matches."""
    if (remote_id := _as_uuid(term)) is not None:
        return Q(remote_id=remote_id)
    return Q(credential__in=credentials_matching(term))


def integrations_matching(term: str) -> QuerySet[Integration]:
    return Integration.objects.filter(integration_search(term)).values("pk")


def meeting_search(term: str) -> Q:
    """The meetings a search for `term` finds: the one whose Meeting BaaS event id it is,
    through its index, or else those whose title contains it; and those of the integrations
    the term finds (by calendar id, account e-mail or customer name), each field through the
    index of its own table."""
    integrations = _ids(Integration.objects.filter(integration_search(term)))
    if (event_id := _as_uuid(term)) is not None:
        return Q(remote_event_id=event_id) | Q(integration__in=integrations)
    return titles_containing(term) | Q(integration__in=integrations)


def titles_containing(term: str) -> Q:
    """Meetings whose title contains `term`. PostgreSQL's planner weighs the trigram index
    against the list's order from its statistics. SQLite's knows nothing of its trigram table,
    so the table is asked first how many titles it finds: few, and the list reads them through
    it; many, and the list's own order finds a page of them at once."""
    contains = Q(title__icontains=term)
    connection = connections[Meeting.objects.db]
    if connection.vendor != "sqlite":
        return contains
    if len(term) < 3:
        # No trigram to look up: the first matches in the table's order, read once, rather
        # than the list's order read to its end for a term that few titles have.
        found = Meeting.objects.filter(contains).order_by().values_list("pk", flat=True)
        ids = list(found[: IDS_READ_FIRST + 1])
        return Q(pk__in=ids) if len(ids) <= IDS_READ_FIRST else contains
    # A phrase of the term's trigrams, each following the last: the term, anywhere in a title.
    phrase = '"{}"'.format(term.replace('"', '""'))
    counted = f"SELECT COUNT(*) FROM ({TITLES_MATCHING} LIMIT %s)"  # noqa: S608 (constants)
    with connection.cursor() as cursor:
        cursor.execute(counted, [phrase, TITLES_THROUGH_INDEX + 1])
        (count,) = cursor.fetchone()
    if count > TITLES_THROUGH_INDEX:
        return contains
    return Q(pk__in=RawSQL(TITLES_MATCHING, [phrase]))  # noqa: S611 (the term is a parameter)


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


class EventFilter(admin.SimpleListFilter):
    """The events Meeting BaaS sends, listed without a DISTINCT over every delivery."""

    title = "event"
    parameter_name = "event"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        events = sorted({event for accepted in EVENTS.values() for event in accepted})
        return [(event, event) for event in events]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        return queryset.filter(event=value) if value else queryset


class OutcomeFilter(admin.SimpleListFilter):
    """Done, failed, or queued (a bulk job's item, whose outcome is a record of its own)."""

    title = "outcome"
    parameter_name = "outcome"
    SUCCEEDED = {"done": True, "failed": False, "queued": None}

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(word, word.capitalize()) for word in self.SUCCEEDED]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() not in self.SUCCEEDED:
            return queryset
        succeeded = self.SUCCEEDED[self.value()]
        if succeeded is None:
            return queryset.filter(succeeded__isnull=True)
        return queryset.filter(succeeded=succeeded)


class CustomerFilter(IdFilter):
    title = parameter_name = "customer"
    model = Customer
    lookup = "credential__customer_id"


class CredentialCustomerFilter(CustomerFilter):
    lookup = "customer_id"


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
    list_filter = ("outcome", EventFilter, "api_version", IntegrationFilter)
    list_select_related = ("integration__raw_calendar",)
    # Millions of rows: no second, unfiltered COUNT beside a filtered one.
    show_full_result_count = False
    paginator = EstimatingPaginator
    search_fields = ("=remote_id", "=delivery_id")
    search_help_text = "An exact Meeting BaaS id or delivery id."
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

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[WebhookDelivery], search_term: str
    ) -> tuple[QuerySet[WebhookDelivery], bool]:
        # Equal, not Django's case-blind "=": UPPER(column) would pass by both indexes.
        term = search_term.strip()
        if not term:
            return queryset, False
        condition = Q(delivery_id=term)
        if (remote_id := _as_uuid(term)) is not None:
            condition |= Q(remote_id=remote_id)
        return queryset.filter(condition), False

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
        "outcome",
        "integration_then",
        "credential_link",
        "oauth_app_link",
        "raw_calendar_link",
        "message_linked",
    )
    # Fewer columns than the page has fields, to fit the window: what the action was about in
    # one (the raw calendar left out: only a failed create names one), the message's start.
    list_display = ("at", "action", "username", "outcome", "about", "message_excerpt")
    # Not by action: its names are free text, and listing them would read every record (the
    # search box finds an action by name).
    list_filter = (OutcomeFilter, IntegrationFilter)
    show_full_result_count = False
    paginator = EstimatingPaginator
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

    @admin.display(description="Outcome", ordering="succeeded")
    def outcome(self, record: ActionRecord) -> str:
        return record.outcome.capitalize()

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
