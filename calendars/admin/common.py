"""Pieces every admin module uses: links, read-only admins, action permissions, timelines."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import admin, messages
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.debug import sensitive_variables

from calendars.actions.audit import PROBLEMS
from calendars.queries.history import Entry


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


def render_timeline(entries: list[Entry], export_url: str | None = None) -> str:
    if not entries:
        return "Nothing recorded yet."
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td></tr>",
        (
            (
                entry.at.strftime("%Y-%m-%d %H:%M:%S"),
                entry.kind,
                entry.user,
                entry.summary,
                format_html_join(
                    "",
                    "<br><small>{}: {} → {}</small>",
                    (
                        (field, before or "∅", after or "∅")
                        for field, before, after in entry.changes
                    ),
                ),
            )
            for entry in entries
        ),
    )
    footer = (
        format_html('<p><a href="{}">Export the full history (CSV)</a></p>', export_url)
        if export_url
        else ""
    )
    return format_html(
        '<table class="timeline"><tr><th>When</th><th>What</th><th>Who</th><th>Details</th></tr>'
        "{}</table>{}",
        rows,
        footer,
    )
