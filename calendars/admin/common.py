"""Pieces every admin module uses: links, read-only admins, action permissions, timelines."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.http import urlencode
from django.utils.timezone import localtime
from django.views.decorators.debug import sensitive_variables

from calendars.limits import connections
from calendars.problems import PROBLEMS
from calendars.queries.history import (
    BULK_JOB_MENTION,
    REPLACED,
    SECRET_MARKERS,
    Entry,
    object_timeline,
)

# A list cell shows the start of a long text (a message, a name), so that the list fits its
# window and stays light with a megabyte message; the start of the rest is on hover, and the
# whole of it on the row's own page.
EXCERPT_CHARS = 120
HOVER_CHARS = 1000


@dataclass(frozen=True)
class Attempt[T]:
    """A verb's outcome as the admin words it: its result, or the problem the person was shown."""

    succeeded: bool
    result: T | None = None
    problem: str = ""


# The arguments may be a new secret on its way to be stored: never on an error page.
@sensitive_variables("args", "kwargs")
def attempt[T](
    request: HttpRequest, failure: str, verb: Callable[..., T], *args: object, **kwargs: object
) -> Attempt[T]:
    """Run `verb` for the person signed in (it records itself); a problem the API or a stored
    secret raised becomes an error message, `failure` first, instead of an error page."""
    try:
        return Attempt(succeeded=True, result=verb(*args, acting_user=request.user, **kwargs))
    except PROBLEMS as exc:
        messages.error(request, f"{failure} {exc}".strip())
        return Attempt(succeeded=False, problem=str(exc))


def note_the_connection_cap(request: HttpRequest) -> None:
    """On a page offering creates, say before any is asked when the plan's connection cap is
    near or reached."""
    note = connections.standing()
    if note:
        messages.warning(request, note)


def warn_near_the_connection_cap(request: HttpRequest, creating: int) -> None:
    """Say, before any create is sent, when it nears or passes the plan's connection cap."""
    warning = connections.before_creating(creating)
    if warning:
        messages.warning(request, warning)


def link(obj: object, label: str | None = None) -> str:
    url = reverse(f"admin:calendars_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, label or str(obj))


def allows(request: HttpRequest, codename: str) -> bool:
    return request.user.has_perm(f"calendars.{codename}")


class ReadOnlyAdmin(admin.ModelAdmin):
    """For append-only records: nobody, not even an admin, adds, edits or deletes them here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


def viewable_or_redirect(
    model_admin: admin.ModelAdmin, request: HttpRequest, object_id: str
) -> Model | HttpResponseRedirect:
    """For the portal's own page of one row: the row, or the admin's own "doesn't exist"
    redirect (a malformed id included); PermissionDenied for a role that may not view it."""
    obj = model_admin.get_object(request, unquote(object_id))
    if obj is None:
        return model_admin._get_obj_does_not_exist_redirect(request, model_admin.opts, object_id)
    if not model_admin.has_view_permission(request, obj):
        raise PermissionDenied
    return obj


def shown_or_redirect(
    model_admin: admin.ModelAdmin, request: HttpRequest, object_id: str
) -> Model | HttpResponseRedirect:
    """`viewable_or_redirect` for a change page that only shows its row: a POST to it is
    refused, as the admin refuses one to a row nobody may change."""
    if request.method == "POST":
        raise PermissionDenied
    return viewable_or_redirect(model_admin, request, object_id)


class ChangePageAdmin(admin.ModelAdmin):
    """For models whose change page shows more than the form (a diagnosis, buttons, a summary):
    `change_page_context` gives what an existing row's page adds to the template's context."""

    def change_page_context(self, request: HttpRequest, obj: Model) -> dict:
        return {}

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict,
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Model | None = None,
    ) -> HttpResponse:
        if obj is not None:
            context = {**context, **self.change_page_context(request, obj)}
        return super().render_change_form(request, context, add, change, form_url, obj)


class FullHistoryAdmin(admin.ModelAdmin):
    """The object's "History" page shows its whole timeline (calendars/queries/history.py):
    status changes, actions, bots, field changes, consent links and the admin's own log."""

    object_history_template = "admin/calendars/full_history.html"
    # The export's filter that holds this object's history, for the page's link to it.
    export_scope = ""

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict | None = None
    ) -> HttpResponse:
        obj = viewable_or_redirect(self, request, object_id)
        if isinstance(obj, HttpResponseRedirect):
            return obj
        context = {**(extra_context or {}), "timeline": render_timeline(object_timeline(obj))}
        if self.export_scope and allows(request, "export_history"):
            context["export_link"] = export_link(**{self.export_scope: obj.pk})
        return super().history_view(request, object_id, context)


def render_timeline(entries: list[Entry]) -> str:
    if not entries:
        return "Nothing recorded yet."
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td></tr>",
        (
            (
                when(entry.at),
                entry.kind,
                entry.user,
                with_job_link(entry.summary),
                format_html_join(
                    "",
                    "<br><small>{}</small>",
                    ((change_words(*change),) for change in entry.changes),
                ),
            )
            for entry in entries
        ),
    )
    return format_html(
        '<table class="timeline"><tr><th>When</th><th>What</th><th>Who</th><th>Details</th></tr>'
        "{}</table>",
        rows,
    )


def when(moment: datetime) -> str:
    """A time as every page writes it: DATETIME_FORMAT, in the current time zone, zone named."""
    return date_format(localtime(moment), "DATETIME_FORMAT")


def change_words(field: str, before: object, after: object) -> str:
    """One field's change as a sentence: "refresh token replaced", "consented at set to …"."""
    if after == REPLACED and field in SECRET_MARKERS.values():
        return f"{field} {REPLACED}"
    if _is_blank(before):
        return f"{field} set to {_value_words(after)}"
    if _is_blank(after):
        return f"{field} cleared (was {_value_words(before)})"
    return f"{field}: {_value_words(before)} → {_value_words(after)}"


def _is_blank(value: object) -> bool:
    return value is None or value == ""


def _value_words(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return when(value)
    if isinstance(value, date):
        return date_format(value, "DATE_FORMAT")
    return str(value)


def export_link(**scope: int) -> str:
    """A link to the CSV export of one object's full history (`integration=` or `credential=`)."""
    url = reverse("admin:calendars_history_export") + "?" + urlencode(scope)
    return format_html('<a href="{}">Export the full history (CSV)</a>', url)


def without_export_unless_allowed(request: HttpRequest, fieldsets: list) -> list:
    """Drop the `history_export` field for roles that may not export (the link would 403)."""
    if allows(request, "export_history"):
        return fieldsets
    return [
        (name, {**options, "fields": [f for f in options["fields"] if f != "history_export"]})
        for name, options in fieldsets
    ]


def with_job_link(text: str) -> str:
    """`text`, escaped, with the bulk job it names ("queued in bulk job 3") linked to that job."""
    mention = BULK_JOB_MENTION.search(text)
    if mention is None:
        return format_html("{}", text)
    url = reverse("admin:calendars_bulkjob_change", args=[mention.group(1)])
    return format_html(
        '{}<a href="{}">{}</a>{}',
        text[: mention.start()],
        url,
        mention.group(0),
        text[mention.end() :],
    )


def excerpt(text: str, render: Callable[[str], str] = conditional_escape) -> str:
    """The start of `text` for a list cell, rendered (escaped by default), with a longer start
    in its title for the mouse to show."""
    if len(text) <= EXCERPT_CHARS:
        return render(text)
    return format_html(
        '<span title="{}">{}</span>', _cut(text, HOVER_CHARS), render(_cut(text, EXCERPT_CHARS))
    )


def _cut(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_download(rows: Iterable[list[str]], name: str) -> StreamingHttpResponse:
    """`rows` (from a `spreadsheet_rows` writer) streamed as a CSV file named `name` and the
    time."""
    writer = csv.writer(_Echo())
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    return StreamingHttpResponse(
        (writer.writerow(row) for row in rows),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}-{stamp}.csv"'},
    )
