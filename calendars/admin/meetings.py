"""Meetings, their bots and the customers' bot policies; "Meetings at risk", the morning view.

The bot actions run in the request rather than as bulk jobs: a bulk job's items are
integrations, judged "fixed" by the status an integration reaches after a check period,
while a bot call's outcome is in its own answer. The few meetings a person selects at once
(at most BOT_ACTION_LIMIT, one call each, one per series for "every occurrence") are done
before the page answers, and each meeting's page keeps the outcome in its bot history.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from functools import partial

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.contrib.admin.views.main import PAGE_VAR, SEARCH_VAR, ChangeList
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme, urlencode

from calendars.actions import bulk
from calendars.admin.big_lists import EstimatingPaginator, SearchPaginator
from calendars.admin.common import ChangePageAdmin, FullHistoryAdmin, allows, excerpt, link
from calendars.admin.coverage import coverage_view
from calendars.admin.records import (
    CustomerFilter,
    IntegrationFilter,
    customers_named,
    meeting_search,
)
from calendars.forms import SecretField
from calendars.lib.validators import allowed_callback, reject_control_characters
from calendars.limits import daily_bots
from calendars.meetings import bots, outcomes, overrides, recording, risk, rules
from calendars.meetings.policy import integrations_to_apply, policy_of
from calendars.models import BotPolicy, BulkJob, BulkJobItem, Meeting
from calendars.queries import missed
from calendars.queries.customers import MEETINGS_AROUND
from calendars.status import PortalStatus
from calendars.templatetags.portal_labels import STATUS_LABELS, status_label

BOT_ACTION_LIMIT = 50
# A domain the customer lists: DNS labels of letters, digits and hyphens, at least two.
DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}")
# The part of a customer's name the Meetings list's customer filter looks for, at most.
NAME_CHARS = 200
# Meetings listed on the at-risk page; the count above it tells how many there are in all.
# As many as each rule reads (its soonest): so many are exactly the soonest of all.
AT_RISK_LISTED = risk.COUNTED
# Missed meetings listed on their page; the counts by cause above tell how many in all, and
# each links to the Meetings list filtered alike.
MISSED_LISTED = 100
# The other copies of a shared meeting its carrier's page links to, at most.
SHOWN_COPIES = 20
PERMISSION = "run_bot_actions"
# What each bot action will do, on its confirmation page.
EXPLANATIONS = {
    "schedule_bot": "Meeting BaaS will send the customer's bot (its bot policy's settings) to "
    "each meeting. A meeting that already has a bot keeps it.",
    "schedule_bot_series": "Meeting BaaS will send the customer's bot to every future "
    "occurrence of each meeting's series (one request per series).",
    "change_bot_settings": "Each meeting's bot gets the settings of its customer's bot policy "
    "as they are now. Meeting BaaS refuses within 4 minutes of the bot joining.",
    "remove_bot": "Each meeting's bot is cancelled; a bot already in the meeting leaves it.",
    "record_always": "Each meeting is recorded whatever the customer's recording rules say: its "
    "bot is scheduled now if it has none. No rule, sync or webhook changes this afterwards.",
    "record_never": "Each meeting is never recorded, whatever the customer's recording rules "
    "say: its bot is removed now if it has one. No rule, sync or webhook changes this "
    "afterwards.",
    "follow_recording_rules": "Each meeting goes back to the customer's recording rules: it "
    "keeps its bot, or lack of one, until the policy next looks at it (its calendar's next "
    "sync).",
}
VERBS = {
    "schedule_bot": lambda ids, user: bots.schedule(ids, acting_user=user),
    "schedule_bot_series": lambda ids, user: bots.schedule(
        ids, acting_user=user, every_occurrence=True
    ),
    "change_bot_settings": lambda ids, user: bots.change(ids, acting_user=user),
    "remove_bot": lambda ids, user: bots.remove(ids, acting_user=user),
    "record_always": lambda ids, user: overrides.set_override(
        ids, Meeting.Override.ALWAYS, acting_user=user
    ),
    "record_never": lambda ids, user: overrides.set_override(
        ids, Meeting.Override.NEVER, acting_user=user
    ),
    "follow_recording_rules": lambda ids, user: overrides.set_override(ids, "", acting_user=user),
}
# The override buttons a meeting's page shows, by the override it has.
OVERRIDE_BUTTONS = {
    "": ["record_always", "record_never"],
    Meeting.Override.ALWAYS: ["record_never", "follow_recording_rules"],
    Meeting.Override.NEVER: ["record_always", "follow_recording_rules"],
}


class StartsFilter(admin.SimpleListFilter):
    """When meetings start. The list opens on the meetings from today on (not on the months of
    past meetings kept); "All" shows every one. A search, or the missed meetings' filter,
    looks through every meeting unless a choice is made here, and so does an action posted."""

    title = "starts"
    parameter_name = "starts"
    # The customer page's meetings: the day before now and the day after.
    AROUND_NOW = "around_now"
    FROM_TODAY = "from_today"
    ALL = "all"
    CHOICES = {
        FROM_TODAY: "From today on",
        "past_day": "Past day",
        AROUND_NOW: "Past day and next 24 h",
        "next_hour": "Next hour",
        "today": "Today",
        "next_24h": "Next 24 h",
        "this_week": "This week",
    }

    def __init__(
        self, request: HttpRequest, params: dict, model: type, model_admin: admin.ModelAdmin
    ) -> None:
        super().__init__(request, params, model, model_admin)
        # An action posted from a meeting's page or the at-risk page names its meetings: the
        # default must not drop one that began before today.
        looking_back = (
            request.method != "GET"
            or bool(request.GET.get(SEARCH_VAR, "").strip())
            or MissedFilter.parameter_name in request.GET
        )
        self.default = None if looking_back else self.FROM_TODAY

    def value(self) -> str | None:
        return super().value() or self.default

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return list(self.CHOICES.items())

    def choices(self, changelist: ChangeList) -> Iterator[dict]:
        value = self.value()
        yield {
            "selected": value in (None, self.ALL),
            "query_string": changelist.get_query_string({self.parameter_name: self.ALL}),
            "display": "All",
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        now = timezone.now()
        if value == self.FROM_TODAY:
            return queryset.filter(starts_at__gte=_local_midnight(now))
        bounds = self.bounds(value, now)
        if bounds is None:
            return queryset
        return queryset.filter(starts_at__gte=bounds[0], starts_at__lt=bounds[1])

    @staticmethod
    def bounds(value: str | None, now: datetime) -> tuple[datetime, datetime] | None:
        """The range of start times a choice means, in TIME_ZONE's days and weeks."""
        midnight = _local_midnight(now)
        monday = midnight - timedelta(days=midnight.weekday())
        return {
            "past_day": (now - timedelta(days=1), now),
            StartsFilter.AROUND_NOW: (now - MEETINGS_AROUND, now + MEETINGS_AROUND),
            "next_hour": (now, now + timedelta(hours=1)),
            "today": (midnight, midnight + timedelta(days=1)),
            "next_24h": (now, now + timedelta(hours=24)),
            "this_week": (monday, monday + timedelta(days=7)),
        }.get(value or "")


def _local_midnight(now: datetime) -> datetime:
    """The start of today in TIME_ZONE."""
    return timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)


class MissedFilter(admin.SimpleListFilter):
    """The meetings "Missed meetings" counts (`missed`: every cause or one), over its days
    (`missed_from`, `missed_until`; yesterday and today when not given)."""

    title = "missed"
    parameter_name = "missed"
    ALL = "all"
    extra_parameters = ("missed_from", "missed_until")

    def __init__(
        self, request: HttpRequest, params: dict, model: type, model_admin: admin.ModelAdmin
    ) -> None:
        default = missed.yesterday_and_today()
        given = [params.pop(name, [""])[-1] for name in self.extra_parameters]
        first, last = _date_or(given[0], default.first), _date_or(given[1], default.last)
        self.days = missed.Days(first, last)
        super().__init__(request, params, model, model_admin)
        for name, value in zip(self.extra_parameters, given, strict=True):
            if value:
                self.used_parameters[name] = value

    def expected_parameters(self) -> list[str]:
        return [self.parameter_name, *self.extra_parameters]

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [(self.ALL, "Every cause"), *missed.CAUSES.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value is None:
            return queryset
        if value != self.ALL and value not in missed.CAUSES:
            return queryset.none()
        cause = "" if value == self.ALL else value
        return queryset.filter(missed.condition(self.days, cause))


def _date_or(value: str, default: date) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return default


class HasUrlFilter(admin.SimpleListFilter):
    title = "meeting URL"
    parameter_name = "has_url"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [("yes", "Has a meeting URL"), ("no", "No meeting URL")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.exclude(meeting_url="")
        if self.value() == "no":
            return queryset.filter(meeting_url="")
        return queryset


class IntegrationStatusFilter(admin.SimpleListFilter):
    title = "integration status"
    parameter_name = "integration_status"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return list(STATUS_LABELS.items())

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        return queryset.filter(integration__status=value) if value else queryset


class MeetingCustomerFilter(CustomerFilter):
    """A customer by id (the links from a customer's page), or the customers whose name
    contains what was typed into the filter's box (`customer_name`): there are too many
    customers to list them as choices."""

    lookup = "integration__credential__customer_id"
    template = "admin/calendars/meeting/customer_filter.html"
    name_parameter = "customer_name"
    extra_parameters = (name_parameter,)  # offered besides parameter_name (admin/lookups.py)

    def __init__(
        self, request: HttpRequest, params: dict, model: type, model_admin: admin.ModelAdmin
    ) -> None:
        self.name = params.pop(self.name_parameter, [""])[-1].strip()[:NAME_CHARS]
        super().__init__(request, params, model, model_admin)
        if self.name:
            self.used_parameters[self.name_parameter] = self.name
        # The list's other parameters, kept by the box's form (a new filter starts on page 1).
        self.kept = [
            (name, value)
            for name, values in request.GET.lists()
            if name not in (*self.expected_parameters(), PAGE_VAR)
            for value in values
        ]

    def expected_parameters(self) -> list[str]:
        return [self.parameter_name, self.name_parameter]

    def has_output(self) -> bool:
        return True

    def choices(self, changelist: ChangeList) -> Iterator[dict]:
        everyone = self.value() is None and not self.name
        yield {
            "selected": everyone,
            "query_string": changelist.get_query_string(remove=self.expected_parameters()),
            "display": "All",
        }
        for value, title in self.lookup_choices:
            yield {
                "selected": True,
                "query_string": changelist.get_query_string(
                    {self.parameter_name: value}, [self.name_parameter]
                ),
                "display": title,
            }
        if self.name:
            yield {
                "selected": True,
                "query_string": changelist.get_query_string(
                    {self.name_parameter: self.name}, [self.parameter_name]
                ),
                "display": f"Name contains “{self.name}”",
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        queryset = super().queryset(request, queryset)
        if not self.name:
            return queryset
        return queryset.filter(**{f"{self.lookup}__in": customers_named(self.name)})


def change_url(name: str) -> Callable[[int], str]:
    """The URL of the admin page `name` for an object's id, reversed once: a page of hundreds
    of rows spent a tenth of its time in reverse() (the over-the-cap section of "Meetings at
    risk", 160 meetings and 100 at risk)."""
    before, _, after = reverse(name, args=[0]).rpartition("/0/")
    return lambda pk: f"{before}/{pk}/{after}"


def cut_rows(day: daily_bots.OverDay, meeting_url: Callable[[int], str]) -> str:
    """The rows of a day's meetings past the plan's bot cap, drawn here rather than by the
    template: up to 160 rows on the page, which the template engine took as long to draw as
    the rest of "Meetings at risk"."""
    starts = [timezone.localtime(meeting.starts_at) for meeting in day.cut]
    return format_html_join(
        "\n",
        '<tr><td><time datetime="{}">{}</time></td><td><a href="{}">{}</a></td><td>{}</td></tr>',
        (
            (
                start.isoformat(),
                date_format(start, "DATETIME_FORMAT"),
                meeting_url(m.pk),
                m.title,
                m.customer,
            )
            for m, start in zip(day.cut, starts, strict=True)
        ),
    )


@admin.register(Meeting)
class MeetingAdmin(ChangePageAdmin):
    list_display = (
        "when",
        "title_cell",
        "customer",
        "platform",
        "bot",
        "outcome_cell",
        "integration_status",
    )
    list_display_links = ("when", "title_cell")
    list_filter = (
        StartsFilter,
        "has_bot",
        "outcome",
        MissedFilter,
        HasUrlFilter,
        "platform",
        MeetingCustomerFilter,
        IntegrationStatusFilter,
        IntegrationFilter,
    )
    # The account and customer come in two more queries, not in the list's join: joined four
    # tables deep, SQLite's planner (once ANALYZE has run) starts from the customers and sorts
    # every meeting, instead of reading the first page off the `meeting_starts` index.
    list_select_related = ("integration",)
    # What get_search_results matches (through records.meeting_search), listed so the admin
    # shows the box.
    search_fields = (
        "title",
        "integration__credential__account_email",
        "integration__credential__customer__name",
        "=remote_event_id",
        "=integration__remote_id",
    )
    search_help_text = (
        "Title, account e-mail or customer name (part of it), "
        "or an exact Meeting BaaS event or calendar id."
    )
    show_full_result_count = False
    fieldsets = (
        (
            "The event, as Meeting BaaS reported it",
            {
                "fields": (
                    "title",
                    "starts_at",
                    "ends_at",
                    "platform",
                    "meeting_url",
                    "organizer_email",
                    "is_cancelled",
                    "is_declined",
                    "is_recurring",
                    "series_id",
                    "remote_event_id",
                    "synced_at",
                )
            },
        ),
        ("What happened", {"fields": ("outcome_words", "timeline")}),
        ("Calendar", {"fields": ("customer_link", "integration_link")}),
        (
            "Bot",
            {
                "fields": (
                    "bot",
                    "same_meeting",
                    "recording_rule",
                    "why_no_bot",
                    "bot_summary",
                    "policy",
                    "bot_id",
                    "bot_changed_late_at",
                )
            },
        ),
        ("Bot history (newest first)", {"fields": ("bot_history",)}),
    )
    readonly_fields = flatten_fieldsets(fieldsets)
    actions = (
        "schedule_bot",
        "schedule_bot_series",
        "change_bot_settings",
        "remove_bot",
        "record_always",
        "record_never",
        "follow_recording_rules",
    )
    change_form_template = "admin/calendars/meeting/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Meeting]:
        return super().get_queryset(request).prefetch_related("integration__credential__customer")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Meeting], search_term: str
    ) -> tuple[QuerySet[Meeting], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(meeting_search(term)), False

    def get_paginator(
        self,
        request: HttpRequest,
        queryset: QuerySet[Meeting],
        per_page: int,
        orphans: int = 0,
        allow_empty_first_page: bool = True,
    ) -> Paginator:
        # A search is counted up to a bound; a filter exactly, through the index of what it
        # filters on; the whole table from PostgreSQL's estimate, labelled "about".
        searched = request.GET.get(SEARCH_VAR, "").strip()
        paginator = SearchPaginator if searched else EstimatingPaginator
        return paginator(queryset, per_page, orphans, allow_empty_first_page)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # meetings come from the calendars

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # the bot changes through its actions, which record themselves

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_run_bot_actions_permission(self, request: HttpRequest) -> bool:
        return allows(request, PERMISSION)

    def get_urls(self) -> list:
        at_risk = self.admin_site.admin_view(self.at_risk_view)
        missed = self.admin_site.admin_view(self.missed_view)
        report = self.admin_site.admin_view(partial(coverage_view, self))
        return [
            path("at-risk/", at_risk, name="calendars_meeting_at_risk"),
            path("missed/", missed, name="calendars_meeting_missed"),
            path("coverage/", report, name="calendars_meeting_coverage"),
            *super().get_urls(),
        ]

    @admin.display(description="When", ordering="starts_at")
    def when(self, meeting: Meeting) -> str:
        start = timezone.localtime(meeting.starts_at)
        cancelled = (
            format_html("<br><small>{}</small>", "cancelled") if meeting.is_cancelled else ""
        )
        return format_html(
            "{}<br><small>until {}</small>{}",
            date_format(start, "DATETIME_FORMAT"),
            date_format(timezone.localtime(meeting.ends_at), "TIME_FORMAT"),
            cancelled,
        )

    @admin.display(description="Title", ordering="title")
    def title_cell(self, meeting: Meeting) -> str:
        return excerpt(meeting.title or "(no title)")

    @admin.display(description="Customer / account")
    def customer(self, meeting: Meeting) -> str:
        credential = meeting.integration.credential
        return format_html(
            "{}<br><small>{}</small>", link(credential.customer), excerpt(credential.account_email)
        )

    @admin.display(description="Bot")
    def bot(self, meeting: Meeting) -> str:
        if meeting.has_bot:
            return format_html("Scheduled<br><small>{}</small>", meeting.bot_summary)
        if meeting.bot_failure:
            return format_html("Failed<br><small>{}</small>", excerpt(meeting.bot_failure))
        if meeting.outcome == Meeting.Outcome.COVERED:
            # The stored words: the list reads no other row for them.
            return format_html("Covered<br><small>{}</small>", meeting.outcome_reason)
        return "Not scheduled"

    @admin.display(description="The same meeting in other calendars")
    def same_meeting(self, meeting: Meeting) -> str:
        shared = meeting.shared_meeting
        if shared is None:
            return "None known (one bot per calendar, no meeting URL, or not looked at yet)."
        carrier = shared.carrier
        if carrier is None:
            return "No copy can carry its bot now (each copy's outcome says why)."
        if carrier.pk != meeting.pk:
            if carrier.has_bot:
                said = ("Covered by the bot", "")
            elif carrier.bot_override == Meeting.Override.NEVER:
                said = ("Carried by the copy", ", which a person set to never be recorded")
            else:
                said = ("Carried by the copy", ", which has no bot now")
            return format_html(
                '{} on {}\'s calendar{}: <a href="{}">its copy there</a>.',
                said[0],
                carrier.integration.credential.account_email,
                said[1],
                reverse("admin:calendars_meeting_change", args=[carrier.pk]),
            )
        others = shared.copies.exclude(pk=meeting.pk).select_related("integration__credential")
        return format_html(
            "This copy carries the meeting's bot; it covers {}.",
            format_html_join(
                ", ",
                '<a href="{}">{}\'s copy</a>',
                (
                    (
                        reverse("admin:calendars_meeting_change", args=[other.pk]),
                        other.integration.credential.account_email,
                    )
                    for other in others.order_by("pk")[:SHOWN_COPIES]
                ),
            )
            or "no other copy yet",
        )

    @admin.display(description="Outcome", ordering="outcome")
    def outcome_cell(self, meeting: Meeting) -> str:
        if not meeting.outcome:
            return "-"
        cause = meeting.get_outcome_cause_display() if meeting.outcome_cause else ""
        return format_html("{}<br><small>{}</small>", meeting.get_outcome_display(), cause)

    @admin.display(description="Integration", ordering="integration__status")
    def integration_status(self, meeting: Meeting) -> str:
        return link(meeting.integration, status_label(meeting.integration.status))

    @admin.display(description="Customer")
    def customer_link(self, meeting: Meeting) -> str:
        return link(meeting.integration.credential.customer)

    @admin.display(description="Integration")
    def integration_link(self, meeting: Meeting) -> str:
        integration = meeting.integration
        return format_html(
            "{} ({}), {}",
            link(integration, str(integration.raw_calendar)),
            integration.credential.account_email,
            status_label(integration.status),
        )

    @admin.display(description="Why no bot yet")
    def why_no_bot(self, meeting: Meeting) -> str:
        mode = policy_of(meeting.integration.credential.customer_id).mode
        words = risk.why_no_bot(meeting, mode) or "It has its bot."
        if not risk.policy_yet_to_ask(meeting, mode):
            return words
        applying = (
            BulkJobItem.objects.filter(
                integration_id=meeting.integration_id,
                state=BulkJobItem.State.PENDING,
                job__kind=BulkJob.Kind.APPLY_POLICY,
            )
            .values_list("job_id", flat=True)
            .first()
        )
        if applying is None:
            return words
        return format_html(
            'The policy is being applied to the known meetings: <a href="{}">job {}</a>.',
            reverse("admin:calendars_bulkjob_change", args=[applying]),
            applying,
        )

    @admin.display(description="Recording rule")
    def recording_rule(self, meeting: Meeting) -> str:
        """Which rule decides whether the policy records it (or the person's override)."""
        policy = policy_of(meeting.integration.credential.customer_id)
        who = recording.override_by(meeting) if meeting.bot_override else ""
        decision = rules.decide(recording.rules_of(policy), recording.facts_of(meeting, who))
        if meeting.bot_override or policy.mode == BotPolicy.Mode.RECORD_ALL:
            return decision.reason
        return "The customer's policy records only the meetings someone scheduled."

    @admin.display(description="Bot policy")
    def policy(self, meeting: Meeting) -> str:
        policy = policy_of(meeting.integration.credential.customer_id)
        if policy.pk is None:
            return f"{policy.get_mode_display()} (the default: the customer has no policy)"
        return link(policy, policy.get_mode_display())

    @admin.display(description="Outcome")
    def outcome_words(self, meeting: Meeting) -> str:
        if not meeting.outcome:
            return "Not judged yet: the next pass over the meetings does (every few minutes)."
        cause = f" ({meeting.get_outcome_cause_display()})" if meeting.outcome_cause else ""
        return format_html(
            "<strong>{}{}</strong>: {}",
            meeting.get_outcome_display(),
            cause,
            meeting.outcome_reason,
        )

    @admin.display(description="Timeline")
    def timeline(self, meeting: Meeting) -> str:
        attempts = meeting.bot_attempts.order_by("at", "id")[:50]
        steps = outcomes.timeline(meeting, attempts, timezone.now())
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    date_format(timezone.localtime(step.at), "DATETIME_FORMAT"),
                    step.what,
                    step.details,
                )
                for step in steps
            ),
        )
        return format_html(
            '<table class="timeline meeting-timeline"><tr><th>When</th><th>What</th>'
            "<th>Details</th></tr>{}</table>",
            rows,
        )

    @admin.display(description="History")
    def bot_history(self, meeting: Meeting) -> str:
        attempts = list(meeting.bot_attempts.all()[:50])
        if not attempts:
            return "Nothing asked of its bot yet."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    date_format(timezone.localtime(a.at), "DATETIME_FORMAT"),
                    a.get_action_display(),
                    a.username,
                    "done" if a.succeeded else "failed",
                    a.message,
                )
                for a in attempts
            ),
        )
        return format_html(
            '<table class="timeline"><tr><th>When</th><th>What</th><th>Who</th>'
            "<th>Outcome</th><th>Details</th></tr>{}</table>",
            rows,
        )

    def change_page_context(self, request: HttpRequest, meeting: Meeting) -> dict:
        integration = meeting.integration
        blocked = integration.status != PortalStatus.ACTIVE
        return {
            "bot_buttons": self._buttons(request, meeting, blocked=blocked),
            # Meeting BaaS sends no bot through a connection that is not active: its fix first.
            "blocked_by": integration if blocked and not meeting.has_bot else None,
        }

    def _buttons(self, request: HttpRequest, meeting: Meeting, *, blocked: bool) -> list[dict]:
        allowed = self.get_actions(request)
        if meeting.has_bot:
            wanted = ["change_bot_settings", "remove_bot"]
        else:
            wanted = [] if blocked else ["schedule_bot"]
        if wanted and meeting.series_id and meeting.is_recurring and not meeting.has_bot:
            wanted.append("schedule_bot_series")
        wanted += OVERRIDE_BUTTONS[meeting.bot_override]
        return [
            {"action": name, "label": allowed[name].description, "pk": meeting.pk}
            for name in wanted
            if name in allowed
        ]

    @admin.action(description="Schedule bot", permissions=[PERMISSION])
    def schedule_bot(self, request: HttpRequest, queryset: QuerySet[Meeting]) -> HttpResponse:
        return self._confirm_and_run(request, queryset, "schedule_bot")

    @admin.action(description="Schedule bot on every occurrence", permissions=[PERMISSION])
    def schedule_bot_series(
        self, request: HttpRequest, queryset: QuerySet[Meeting]
    ) -> HttpResponse:
        return self._confirm_and_run(request, queryset, "schedule_bot_series")

    @admin.action(description="Change bot settings", permissions=[PERMISSION])
    def change_bot_settings(
        self, request: HttpRequest, queryset: QuerySet[Meeting]
    ) -> HttpResponse:
        return self._confirm_and_run(request, queryset, "change_bot_settings")

    @admin.action(description="Remove bot", permissions=[PERMISSION])
    def remove_bot(self, request: HttpRequest, queryset: QuerySet[Meeting]) -> HttpResponse:
        return self._confirm_and_run(request, queryset, "remove_bot")

    @admin.action(description="Always record", permissions=[PERMISSION])
    def record_always(self, request: HttpRequest, queryset: QuerySet[Meeting]) -> HttpResponse:
        return self._confirm_and_run(request, queryset, "record_always")

    @admin.action(description="Never record", permissions=[PERMISSION])
    def record_never(self, request: HttpRequest, queryset: QuerySet[Meeting]) -> HttpResponse:
        return self._confirm_and_run(request, queryset, "record_never")

    @admin.action(description="Follow the recording rules", permissions=[PERMISSION])
    def follow_recording_rules(
        self, request: HttpRequest, queryset: QuerySet[Meeting]
    ) -> HttpResponse:
        return self._confirm_and_run(request, queryset, "follow_recording_rules")

    def _confirm_and_run(
        self, request: HttpRequest, queryset: QuerySet[Meeting], action: str
    ) -> HttpResponse | None:
        """Show what will happen to which meetings; on confirmation do it and say how it went."""
        meetings = list(
            queryset.select_related("integration__credential__customer").order_by("starts_at")
        )
        if len(meetings) > BOT_ACTION_LIMIT:
            self.message_user(
                request,
                f"{len(meetings)} meetings selected: bot actions take at most "
                f"{BOT_ACTION_LIMIT} at once. Narrow the list with its filters.",
                messages.WARNING,
            )
            return None
        back = _safe_next(request)
        if "confirm" in request.POST:
            ids = [m.pk for m in meetings]
            done = VERBS[action](ids, request.user)
            outcomes.refresh(ids)
            _report(self, request, done)
            return HttpResponseRedirect(back or request.get_full_path())
        context = {
            **self.admin_site.each_context(request),
            "title": f"{self.get_actions(request)[action].description}: confirm",
            "opts": self.model._meta,
            "action": action,
            "explanation": EXPLANATIONS[action],
            "meetings": meetings,
            "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
            "next": back,
        }
        return TemplateResponse(request, "admin/calendars/meeting/confirm_bot_action.html", context)

    def at_risk_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        h = risk.horizon()
        found = risk.find(h)
        meeting_url, integration_url = (
            change_url("admin:calendars_meeting_change"),
            change_url("admin:calendars_integration_change"),
        )
        rows = [
            self._risk_row(m, h, meeting_url, integration_url)
            for m in risk.at_risk(found.ids[:AT_RISK_LISTED])
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": "Meetings at risk",
            "opts": self.model._meta,
            "rows": rows,
            "found": found,
            "summary": risk.summary(found),
            "hours": settings.AT_RISK_HOURS,
            "listed": AT_RISK_LISTED,
            "bot_cap": daily_bots.cap(),
            "over_cap": [
                (day, cut_rows(day, meeting_url)) for day in daily_bots.over_the_cap(h.now)
            ],
            "days_ahead": daily_bots.DAYS_AHEAD,
            "may_act": allows(request, PERMISSION),
            "changelist": reverse("admin:calendars_meeting_changelist"),
            "here": request.get_full_path(),
        }
        return TemplateResponse(request, "admin/calendars/meeting/at_risk.html", context)

    def _risk_row(
        self,
        meeting: Meeting,
        h: risk.Horizon,
        meeting_url: Callable[[int], str],
        integration_url: Callable[[int], str],
    ) -> dict:
        integration = meeting.integration
        reasons = risk.reasons(meeting, h)
        fixes_here = any(reason.fix_on == "meeting" for reason in reasons)
        not_active = any(reason.rule == risk.Rule.NOT_ACTIVE for reason in reasons)
        return {
            "meeting": meeting,
            "url": meeting_url(meeting.pk),
            "integration_url": integration_url(integration.pk),
            "reasons": reasons,
            "fix_on_integration": any(reason.fix_on == "integration" for reason in reasons),
            # The bot can be scheduled from the list when that is the fix, a URL exists and
            # the calendar connection is active: Meeting BaaS sends no bot through one that is
            # not, so its fix comes first.
            "can_schedule": fixes_here
            and not not_active
            and bool(meeting.meeting_url)
            and not meeting.has_bot,
        }

    def missed_view(self, request: HttpRequest) -> HttpResponse:
        """Meetings that ended without a recording, by cause, each cause with its fix: a page
        to read (it changes nothing, so it answers only GET)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        asked = MissedForm(request.GET or None)
        filters = (
            asked.filters() if asked.is_valid() else missed.Filters(missed.yesterday_and_today())
        )
        now = timezone.now()
        meetings = missed.missed(filters, now)
        groups = missed.by_cause(meetings)
        rows = list(
            meetings.select_related(
                "integration__credential__customer", "integration__raw_calendar"
            )
            .annotate(policy_mode=F("integration__credential__customer__bot_policy__mode"))
            .order_by("starts_at", "pk")[:MISSED_LISTED]
        )
        total = sum(group.count for group in groups)
        context = {
            **self.admin_site.each_context(request),
            "title": "Missed meetings",
            "opts": self.model._meta,
            "form": asked if asked.is_bound else MissedForm(initial=_initial(filters)),
            "filters": filters,
            "groups": [_group_row(group, filters) for group in groups],
            "total": total,
            "rows": [_missed_row(meeting) for meeting in rows],
            "listed": MISSED_LISTED,
            "all_url": _meetings_list_url(filters),
        }
        return TemplateResponse(request, "admin/calendars/meeting/missed.html", context)


class MissedForm(forms.Form):
    """The missed meetings view's filters (GET): a range of days, a customer, a cause, a
    platform."""

    start = forms.DateField(label="From", required=False, widget=forms.DateInput({"type": "date"}))
    end = forms.DateField(label="Until", required=False, widget=forms.DateInput({"type": "date"}))
    customer = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    customer_name = forms.CharField(label="Customer", required=False, max_length=NAME_CHARS)
    cause = forms.ChoiceField(required=False, choices=[("", "Every cause"), *missed.CAUSES.items()])
    platform = forms.ChoiceField(
        required=False,
        choices=[("", "Every platform"), *Meeting._meta.get_field("platform").choices],
    )

    def clean(self) -> dict:
        data = super().clean()
        default = missed.yesterday_and_today()
        start, end = data.get("start") or default.first, data.get("end") or default.last
        if end < start:
            raise forms.ValidationError("“Until” is before “From”.")
        if (end - start).days >= missed.MAX_DAYS:
            raise forms.ValidationError(f"At most {missed.MAX_DAYS} days at once.")
        data["days"] = missed.Days(start, end)
        return data

    def filters(self) -> missed.Filters:
        data = self.cleaned_data
        customers = None
        if data.get("customer"):
            customers = [data["customer"]]
        elif data.get("customer_name", "").strip():
            customers = customers_named(data["customer_name"].strip())
        return missed.Filters(
            data["days"], customers, data.get("cause", ""), data.get("platform", "")
        )


def _initial(filters: missed.Filters) -> dict:
    return {"start": filters.days.first, "end": filters.days.last}


def _meetings_list_url(filters: missed.Filters, cause: str | None = None) -> str:
    """The Meetings list filtered as the view is (and to one cause)."""
    cause = cause if cause is not None else filters.cause
    query: dict[str, str] = {
        "missed": cause or MissedFilter.ALL,
        "missed_from": filters.days.first.isoformat(),
        "missed_until": filters.days.last.isoformat(),
    }
    if filters.platform:
        query["platform__exact"] = filters.platform
    if isinstance(filters.customer_ids, list) and len(filters.customer_ids) == 1:
        query["customer"] = str(filters.customer_ids[0])
    return f"{reverse('admin:calendars_meeting_changelist')}?{urlencode(query)}"


def _group_row(group: missed.Group, filters: missed.Filters) -> dict:
    return {"group": group, "url": _meetings_list_url(filters, group.cause)}


def _missed_row(meeting: Meeting) -> dict:
    """A missed meeting and where its fix is: its calendar's integration, its policy or URL,
    or the explanation to pass on."""
    integration = meeting.integration
    cause = meeting.outcome_cause
    fix = ""
    if cause == Meeting.Cause.CALENDAR_BROKEN:
        fix = format_html(
            '<a href="{}">Fix its calendar connection</a> (now {})',
            reverse("admin:calendars_integration_change", args=[integration.pk]),
            status_label(integration.status),
        )
    elif cause == Meeting.Cause.POLICY and (
        meeting.bot_override or meeting.policy_mode == BotPolicy.Mode.RECORD_ALL
    ):
        fix = (
            "Its reason names the recording rule or the override: change the customer's rules, "
            "or set such meetings to always be recorded."
        )
    elif cause in (Meeting.Cause.POLICY, Meeting.Cause.NOT_ASKED):
        fix = "Schedule its bot next time, or switch the customer's policy to record every meeting."
    elif cause == Meeting.Cause.NO_URL:
        organizer = f" ({meeting.organizer_email})" if meeting.organizer_email else ""
        fix = f"Ask its organizer{organizer} to add a video link."
    elif meeting.outcome == Meeting.Outcome.BOT_FAILED:
        fix = "Pass the explanation on to the customer."
    return {
        "meeting": meeting,
        "url": reverse("admin:calendars_meeting_change", args=[meeting.pk]),
        "cause": missed.CAUSES.get(cause or missed.NO_NEWS, cause),
        "fix": fix,
    }


def _safe_next(request: HttpRequest) -> str:
    """Where to go once the action is done (the at-risk page sends its own address)."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return ""


def _report(model_admin: admin.ModelAdmin, request: HttpRequest, outcomes: list) -> None:
    for outcome in outcomes:
        level = messages.SUCCESS if outcome.succeeded else messages.ERROR
        model_admin.message_user(request, f"{outcome.meeting}: {outcome.message}", level)
    if not outcomes:
        model_admin.message_user(request, "Nothing was done.", messages.INFO)


class BotPolicyForm(forms.ModelForm):
    transcription_api_key = SecretField("Transcription API key")

    class Meta:
        model = BotPolicy
        fields = (
            "customer",
            "mode",
            "bot_scope",
            "bot_name",
            "recording_mode",
            "bot_image",
            "entry_message",
            "waiting_room_timeout",
            "no_one_joined_timeout",
            "silence_timeout",
            "transcription_enabled",
            "callback_url",
            "attendees",
            "organizer_only",
            "one_off_only",
            "confirmed_only",
            "skipped_title_words",
            "internal_domains",
        )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        # A form posted without the rules or the scope (an older page, a script) keeps
        # recording both, and the scope it had.
        self.fields["attendees"].required = False
        if "bot_scope" in self.fields:
            self.fields["bot_scope"].required = False
        if "transcription_api_key" not in self.fields:
            return  # read-only for this person: shown as stored or not, never as entered
        self.fields["transcription_api_key"].help_text = (
            "The speech-to-text provider's key, sent with each bot when transcription is on. "
            "Stored encrypted and never shown again; leave blank to keep the stored one."
        )

    def clean_callback_url(self) -> str:
        url = self.cleaned_data["callback_url"]
        if url and not allowed_callback(url):
            hosts = ", ".join(sorted(settings.BOT_CALLBACK_HOSTS)) or "none (BOT_CALLBACK_HOSTS)"
            raise forms.ValidationError(
                f"Callbacks go only to HTTPS addresses on the allowed hosts: {hosts}."
            )
        return url

    def clean_bot_scope(self) -> str:
        return self.cleaned_data["bot_scope"] or self.instance.bot_scope

    def clean_attendees(self) -> str:
        return self.cleaned_data["attendees"] or BotPolicy.Attendees.BOTH

    def clean_skipped_title_words(self) -> str:
        words = rules.lines(self.cleaned_data["skipped_title_words"])
        _within(words, rules.MAX_WORDS, rules.MAX_WORD_CHARS, "words or phrases")
        for word in words:
            reject_control_characters(word)
        return "\n".join(words)

    def clean_internal_domains(self) -> str:
        domains = rules.domains(self.cleaned_data["internal_domains"])
        _within(domains, rules.MAX_DOMAINS, rules.MAX_DOMAIN_CHARS, "domains")
        wrong = [d for d in domains if not DOMAIN.fullmatch(d)]
        if wrong:
            raise forms.ValidationError(f"Not a domain: {wrong[0][:60]}. Write e.g. acme.com.")
        return "\n".join(domains)

    def save(self, commit: bool = True) -> BotPolicy:
        key = self.cleaned_data.get("transcription_api_key")
        if key:
            self.instance.transcription_api_key = key
            self.instance.transcription_api_key_replaced_at = timezone.now()
        return super().save(commit)


def _within(items: list[str], most: int, longest: int, what: str) -> None:
    """A policy's list is bounded in length and in its items' length."""
    if len(items) > most:
        raise forms.ValidationError(f"At most {most} {what}, one a line ({len(items)} given).")
    if any(len(item) > longest for item in items):
        raise forms.ValidationError(f"Each line at most {longest} characters.")


ADMIN_ONLY_POLICY_FIELDS = ("transcription_enabled", "transcription_api_key", "callback_url")


@admin.register(BotPolicy)
class BotPolicyAdmin(FullHistoryAdmin):
    form = BotPolicyForm
    list_display = (
        "customer",
        "mode",
        "bot_scope",
        "bot_name",
        "recording_mode",
        "key_stored",
        "updated_at",
    )
    list_filter = ("mode", "bot_scope")
    list_select_related = ("customer",)
    search_fields = ("customer__name",)
    autocomplete_fields = ("customer",)

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # mode "none" says it; the history of the policy stays

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> tuple:
        # Where recordings and transcripts go, and with whose key, is an admin's decision.
        if request.user.has_perm("calendars.change_bot_destinations"):
            return ()
        return ADMIN_ONLY_POLICY_FIELDS

    @admin.display(description="Transcription key", boolean=True)
    def key_stored(self, policy: BotPolicy) -> bool:
        return policy.transcription_api_key is not None

    def save_model(
        self, request: HttpRequest, obj: BotPolicy, form: forms.ModelForm, change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        request.policy_job = self._apply_to_known_meetings(request, obj)

    def response_add(self, request: HttpRequest, obj: BotPolicy, *args: object) -> HttpResponse:
        return self._to_job(request) or super().response_add(request, obj, *args)

    def response_change(self, request: HttpRequest, obj: BotPolicy) -> HttpResponse:
        return self._to_job(request) or super().response_change(request, obj)

    def _apply_to_known_meetings(self, request: HttpRequest, policy: BotPolicy) -> BulkJob | None:
        """Under "record every meeting", the meetings the portal knows already are asked a bot
        for now, in a job (the new ones get theirs as they arrive)."""
        if policy.mode != BotPolicy.Mode.RECORD_ALL:
            return None
        integrations = integrations_to_apply(policy.customer_id)
        if not integrations:
            self.message_user(
                request,
                "No known upcoming meeting of this customer is waiting for a bot.",
                messages.INFO,
            )
            return None
        return bulk.start(
            BulkJob.Kind.APPLY_POLICY,
            [i.pk for i in integrations],
            acting_user=request.user,
            description=bulk.describe_target(integrations),
            action="apply bot policy",
        )

    def _to_job(self, request: HttpRequest) -> HttpResponse | None:
        job = getattr(request, "policy_job", None)
        if job is None:
            return None
        self.message_user(
            request,
            "The policy is saved and is now being applied to the known upcoming meetings.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:calendars_bulkjob_change", args=[job.pk]))
